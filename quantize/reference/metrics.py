"""How far a deployed form's outputs are from the float model's, and the targets the kernel must meet.

One definition for every runtime: the int8 TFLite block and the kernel block of metrics.json, and the board
figures of host/check/harness.py, all come from `compare_outputs`, so they mean the same thing. numpy only.
"""

from __future__ import annotations

import numpy as np

# On the test split, versus the float model: share of sequences whose final argmax agrees, largest |error| of
# the final output, largest |error| of any step's output. Checked by tests/test_twin.py (synthetic models),
# host/check/harness.py and tests/hw (boards); docs/performance.md, "Fidelity against the float model", reports them.
FIDELITY_TARGETS = {"argmax_agreement_min": 0.995, "final_max_abs_max": 0.01, "step_max_abs_max": 0.05}


def check_thresholds(figures: dict, task: str) -> dict:
    """{check name: {value, limit, op, passed}} for the FIDELITY_TARGETS that apply to the task."""
    checks = {"final_max_abs": (figures["final_max_abs"], FIDELITY_TARGETS["final_max_abs_max"], "<="),
              "step_max_abs": (figures["step_max_abs"], FIDELITY_TARGETS["step_max_abs_max"], "<=")}
    if task == "classification":
        checks["argmax_agreement"] = (figures["argmax_agreement"], FIDELITY_TARGETS["argmax_agreement_min"], ">=")
    return {name: {"value": v, "limit": lim, "op": op, "passed": bool(v <= lim if op == "<=" else v >= lim)}
            for name, (v, lim, op) in checks.items()}


def verdict(checks: dict, mismatched: int | None = None) -> dict:
    """The overall pass/fail of metrics.json and results.json, with a reason for every check that failed
    (`mismatched`: outputs that differ from the twin, for a board run)."""
    reasons = [f"{name} {c['value']:.4g} is not {c['op']} {c['limit']:g}" for name, c in checks.items()
               if not c["passed"]]
    if mismatched:
        reasons.insert(0, f"{mismatched:,} outputs differ from the twin (not bit-exact)")
    return {"passed": not reasons, "reasons": reasons or ["all checks passed"]}


def final_outputs(step_outputs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Output after each sequence's last real step."""
    return step_outputs[np.arange(len(lengths)), np.asarray(lengths) - 1]


def real_step_mask(lengths: np.ndarray, max_len: int) -> np.ndarray:
    """(n, max_len) bool, True on each sequence's real steps."""
    return np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]


def target_norm_pair(target_norm) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) arrays from either form a target normalisation comes in: the manifest's
    {"mean": [...], "std": [...]} (model.json) or a (mean, std) pair (host/training/data.py); None stays None."""
    if target_norm is None:
        return None
    if isinstance(target_norm, dict):
        target_norm = (target_norm["mean"], target_norm["std"])
    mean, std = target_norm
    return np.asarray(mean, np.float64), np.asarray(std, np.float64)


def task_figures(final: np.ndarray, y_true: np.ndarray, task: str, target_norm=None) -> dict:
    """Accuracy from the final outputs (classification), or RMSE in target units (regression).

    Regression outputs are normalised targets; `target_norm` (the manifest's {"mean", "std"} dict or a
    (mean, std) pair, see `target_norm_pair`) turns them back into target units.
    """
    if task == "classification":
        return {"accuracy": float(np.mean(final.argmax(axis=-1) == y_true))}
    pred = final.astype(np.float64)
    norm = target_norm_pair(target_norm)
    if norm is not None:
        mean, std = norm
        pred = pred * std + mean
    err = pred - np.asarray(y_true, np.float64).reshape(pred.shape)
    return {"rmse": float(np.sqrt(np.mean(err**2)))}


def compare_outputs(ref_steps: np.ndarray, test_steps: np.ndarray, lengths: np.ndarray, y_true: np.ndarray,
                    task: str, target_norm=None) -> dict:
    """Figures of `test_steps` (a deployed form) against `ref_steps` (the float model), both (n, T, out).

    - accuracy / rmse of the test outputs on the true labels (final output of each sequence),
    - argmax_agreement (classification): share of sequences whose final argmax equals the reference's,
    - final_max_abs / final_mean_abs: |difference| of the final outputs,
    - step_max_abs / step_mean_abs: |difference| over every real step of every sequence (streaming use).
    """
    ref_steps, test_steps = np.asarray(ref_steps, np.float64), np.asarray(test_steps, np.float64)
    if ref_steps.shape != test_steps.shape:
        raise ValueError(f"output shapes differ: {ref_steps.shape} vs {test_steps.shape}")
    lengths = np.asarray(lengths)
    ref_final, test_final = final_outputs(ref_steps, lengths), final_outputs(test_steps, lengths)
    step_diff = np.abs(test_steps - ref_steps)[real_step_mask(lengths, ref_steps.shape[1])]
    final_diff = np.abs(test_final - ref_final)
    figures = task_figures(test_final, y_true, task, target_norm)
    if task == "classification":
        figures["argmax_agreement"] = float(np.mean(test_final.argmax(-1) == ref_final.argmax(-1)))
    figures.update(
        final_max_abs=float(final_diff.max()),
        final_mean_abs=float(final_diff.mean()),
        step_max_abs=float(step_diff.max()),
        step_mean_abs=float(step_diff.mean()),
    )
    return figures


def per_sequence_max_abs(ref_steps: np.ndarray, test_steps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Largest |difference| over each sequence's real steps (for the report's histogram)."""
    diff = np.abs(np.asarray(test_steps) - np.asarray(ref_steps)).max(axis=-1)
    return np.where(real_step_mask(lengths, diff.shape[1]), diff, 0.0).max(axis=1)
