"""The harness's library side without a board: fidelity figures on a regression model, and where a partial
(--limit) run's results go."""

import json

import numpy as np
import pytest

from tinyrnn.host.check import harness
from tinyrnn.host.check import board_report as hw_report
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_fidelity_of_a_perfect_board(tmp_path, task):
    """A 'board' answering exactly what the twin computes: the figures exist and the twin is close to float."""
    model = make_artifact(tmp_path / task, task=task, units=8, n=5, steps=12, k=3)
    twin, manifest, split = harness.load_model(model)
    assert (manifest["task"] == "regression") == ("target_norm" in manifest)
    run = {"board": twin.run(twin.quantize_input(split["x"])), "lengths": split["lengths"].astype(np.int64)}
    figures = harness.fidelity(run, twin, manifest, split)
    key = "rmse" if task == "regression" else "accuracy"
    assert np.isfinite(figures[key])
    assert figures["final_max_abs"] < 0.05 and figures["cosine_similarity"] > 0.99
    checks = harness.check_thresholds(figures, task)
    assert ("argmax_agreement" in checks) == (task == "classification")


def test_target_norm_forms_agree():
    from tinyrnn.quantize.reference.metrics import task_figures
    final, y = np.array([[0.5], [1.0]]), np.array([2.0, 3.0])
    as_dict = task_figures(final, y, "regression", {"mean": [1.0], "std": [2.0]})
    as_pair = task_figures(final, y, "regression", (np.array([1.0]), np.array([2.0])))
    assert as_dict == as_pair == {"rmse": 0.0}


def test_partial_runs_never_replace_a_full_one(tmp_path):
    assert harness.output_dir(tmp_path, "b") == tmp_path / "hw" / "b"
    assert harness.output_dir(tmp_path, "b", 5) == tmp_path / "hw" / "b-limit5"
    partial = tmp_path / "hw" / "b-limit5"
    partial.mkdir(parents=True)
    (partial / "results.json").write_text(json.dumps({"board": "b", "limit": 5}))
    hw_report.write_combined(tmp_path)
    assert "| b |" not in (tmp_path / "hw_report.md").read_text()


@pytest.mark.parametrize("damage", ["truncated_split", "truncated_kernel_npz", "null_manifest", "list_manifest"])
def test_a_damaged_artifact_is_one_line(tmp_path, damage):
    from tinyrnn.quantize.errors import TinyRNNError
    model = make_artifact(tmp_path / "m", units=8, n=3, steps=6, k=3)
    if damage == "truncated_split":
        data = (model / "test_split.npz").read_bytes()
        (model / "test_split.npz").write_bytes(data[:len(data) // 2])
    elif damage == "truncated_kernel_npz":
        for name in ("kernel.npz", "weights.npz"):
            if (model / name).exists():
                data = (model / name).read_bytes()
                (model / name).write_bytes(data[:len(data) // 3])
    else:
        (model / "model.json").write_text("null" if damage == "null_manifest" else "[1, 2]")
    with pytest.raises(TinyRNNError) as e:
        harness.load_model(model)
    assert "\n" not in e.value.one_line() and str(model) in str(e.value)
