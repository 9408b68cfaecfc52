"""Fidelity figures of a quantized model versus the float model (the keys of metrics.json's
`tflite_int8` / `kernel` blocks, docs/artifacts.md). Uses host/evaluate.py's compare_outputs when the
host pipeline provides it, so every runtime is measured the same way; this is the fallback."""
from __future__ import annotations

import numpy as np


def compare_outputs(ref_steps, test_steps, lengths, y_true, task: str) -> dict:
    """ref_steps, test_steps: (n, T, k) outputs after every step (zero past each length)."""
    try:
        from host.evaluate import compare_outputs as host_compare   # the project's single definition
    except ImportError:
        host_compare = None
    if host_compare is not None:
        return host_compare(ref_steps, test_steps, lengths, y_true, task)
    ref = np.asarray(ref_steps, dtype=np.float64)
    test = np.asarray(test_steps, dtype=np.float64)
    lengths = np.asarray(lengths)
    rows = np.arange(len(lengths))
    valid = np.arange(ref.shape[1])[None, :] < lengths[:, None]
    ref_final, test_final = ref[rows, lengths - 1], test[rows, lengths - 1]
    step_err = np.abs(ref - test)[valid]
    final_err = np.abs(ref_final - test_final)
    out = {"final_max_abs": float(final_err.max()), "final_mean_abs": float(final_err.mean()),
           "step_max_abs": float(step_err.max()), "step_mean_abs": float(step_err.mean())}
    if task == "classification":
        out["accuracy"] = float((test_final.argmax(-1) == np.asarray(y_true)).mean())
        out["argmax_agreement"] = float((test_final.argmax(-1) == ref_final.argmax(-1)).mean())
    else:
        out["rmse"] = float(np.sqrt(np.mean((test_final - np.asarray(y_true, dtype=np.float64)) ** 2)))
        out["argmax_agreement"] = None
    return out
