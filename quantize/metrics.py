"""The kernel's fidelity targets against the float model, and the one function that measures them.

The figures (metrics.json's `tflite_int8` and `kernel` blocks, the harness's board figures) all come from
`host.evaluate.compare_outputs`, so every runtime is measured the same way.
"""
from host.evaluate import compare_outputs  # noqa: F401  (re-exported: the single definition)

# On the test split, versus the float model: share of sequences whose final argmax agrees, largest |error| of
# the final output, largest |error| of any step's output. Checked by tests/test_twin.py (synthetic models),
# the training summary, host/harness.py and tests/hw (boards).
FIDELITY_TARGETS = {"argmax_agreement_min": 0.995, "final_max_abs_max": 0.01, "step_max_abs_max": 0.05}
