"""The training pipeline end to end on tiny synthetic data, plus the model maths it relies on.

Full runs are shared through module-scoped fixtures to keep the suite fast; one slow test trains the
default BasicMotions model on the real data set.
"""

import json

import numpy as np
import pytest

from tinyrnn.host.training import model as M
from tinyrnn.host.training.convert import non_integer_tensors
from tinyrnn.quantize.reference.metrics import compare_outputs
from tinyrnn.host import cli
from synthetic import make_sequences, regression_targets, write_csv, write_npz

pytestmark = pytest.mark.tensorflow


def main(argv):
    """`tinyrnn train ARGV`, in-process."""
    return cli.main(["train", *argv])

FAST = ["--epochs", "2", "--units", "8", "--calibration-samples", "200", "--quiet"]
EXPECTED_FILES = ["model.json", "model.keras", "step_model.keras", "model_int8.tflite", "weights.npz",
                  "test_split.npz", "history.json", "metrics.json", "report.md", "plots/training.png",
                  "plots/traces.png", "plots/errors.png"]


def train(out, data, *extra):
    code = main(["--data", str(data), "--out", str(out), *FAST, *extra])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="module")
def fixed_data(workdir):
    seqs, labels = make_sequences(n=60, length=12, channels=3, classes=3)
    return write_npz(workdir / "fixed.npz", seqs, labels)


@pytest.fixture(scope="module")
def gru_run(workdir, fixed_data):
    return train(workdir / "gru", fixed_data)


@pytest.fixture(scope="module")
def variable_run(workdir):
    seqs, labels = make_sequences(n=60, length=12, channels=3, classes=3, variable=True, seed=2)
    return train(workdir / "variable", write_npz(workdir / "variable.npz", seqs, labels, padded=False))


def load_run(out):
    manifest = json.loads((out / "model.json").read_text())
    cfg = M.ModelConfig(manifest["input_dim"], manifest["output_dim"], manifest["cell"], manifest["units"],
                        manifest["layers"], manifest.get("reset_after", False), manifest["task"])
    weights = dict(np.load(out / "weights.npz"))
    split = dict(np.load(out / "test_split.npz"))
    return manifest, cfg, weights, split


def normalised_test_inputs(manifest, split):
    mean, std = np.array(manifest["norm"]["mean"]), np.array(manifest["norm"]["std"])
    real = np.arange(split["x"].shape[1])[None, :] < split["lengths"][:, None]
    return np.where(real[..., None], (split["x"] - mean) / std, 0.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Model maths (no training)

CONFIGS = [("gru", True, 1), ("gru", False, 1), ("lstm", False, 1), ("gru", True, 2), ("gru", False, 3),
           ("lstm", False, 2)]


def random_model(cell, reset_after, layers, task="classification"):
    cfg = M.ModelConfig(5, 3, cell, 8, layers, reset_after, task)
    model = M.build_sequence_model(cfg, masked=True)
    rng = np.random.default_rng(7)
    # Random non-zero biases too, so a bias mix-up cannot hide behind Keras' zero initialisation.
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in model.get_weights()])
    return cfg, model


@pytest.mark.parametrize("cell,reset_after,layers", CONFIGS)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_step_model_and_numpy_step_match_the_sequence_model(cell, reset_after, layers, task):
    cfg, model = random_model(cell, reset_after, layers, task)
    weights = M.extract_weights(model, cfg)
    step_model = M.build_step_model(cfg, weights)
    rng = np.random.default_rng(1)
    lengths = np.array([9, 1, 4, 9, 6])
    x = rng.normal(size=(5, 9, 5)).astype(np.float32)
    x[0, 3] = 0.0  # a real frame of zeros must not be mistaken for padding
    real = (np.arange(9)[None, :] < lengths[:, None])[..., None]
    x = np.where(real, x, 0.0).astype(np.float32)

    sequence_final = np.asarray(model(np.where(real, x, M.MASK_VALUE).astype(np.float32)))
    numpy_steps = M.run_numpy(weights, cfg, x, lengths)
    np.testing.assert_allclose(M.final_outputs(numpy_steps, lengths), sequence_final, atol=1e-5)

    states = M.zero_states(cfg, 5)
    for t in range(9):  # the Keras step model, batched: same outputs as numpy at every real step
        y, *states = (np.asarray(v) for v in step_model([x[:, t], *states]))
        alive = t < lengths
        np.testing.assert_allclose(y[alive], numpy_steps[alive, t], atol=1e-5)
    np.testing.assert_allclose(y[lengths == 9], sequence_final[lengths == 9], atol=1e-5)


@pytest.mark.parametrize("cell,reset_after,layers", CONFIGS)
def test_params_and_macs_follow_the_formulas(cell, reset_after, layers):
    cfg, model = random_model(cell, reset_after, layers)
    assert model.count_params() == M.expected_params(cfg)
    d, h, out = 5, 8, 3
    gates = 3 if cell == "gru" else 4

    def per_layer(d_in):
        return gates * (d_in * h + h * h + (2 * h if cell == "gru" and reset_after else h))
    assert M.expected_params(cfg) == per_layer(d) + (layers - 1) * per_layer(h) + h * out + out
    assert M.macs_per_step(cfg) == gates * (d * h + h * h) + (layers - 1) * gates * (2 * h * h) + h * out


def test_known_figures_for_the_default_model():
    cfg = M.ModelConfig(6, 4, "gru", 32, 1, True)
    assert M.expected_params(cfg) == 3 * (6 * 32 + 32 * 32 + 2 * 32) + 32 * 4 + 4 == 3972
    assert M.macs_per_step(cfg) == 3776  # FIELD-NOTES: d=6, h=32 -> 3,776 MACs
    assert M.expected_params(M.ModelConfig(6, 4, "lstm", 32)) == 4 * (6 * 32 + 32 * 32 + 32) + 132


def test_compare_outputs_figures():
    ref = np.zeros((2, 3, 2), np.float32)
    ref[:, :, 0] = 1.0
    test = ref.copy()
    test[0, 1, 0] = 0.4  # mid-sequence error: counts for step figures only
    test[1, 1] = [0.2, 0.8]  # final error for sequence 1 (length 2): argmax flips
    lengths = np.array([3, 2])
    f = compare_outputs(ref, test, lengths, np.array([0, 1]), "classification")
    assert f["accuracy"] == 1.0 and f["argmax_agreement"] == 0.5
    assert f["final_max_abs"] == pytest.approx(0.8) and f["final_mean_abs"] == pytest.approx(0.4)
    assert f["step_max_abs"] == pytest.approx(0.8)
    assert f["step_mean_abs"] == pytest.approx((0.6 + 0.8 + 0.8) / 10)  # 5 real steps x 2 outputs


# --------------------------------------------------------------------------------------------
# Full runs


def test_artifact_directory_is_complete_and_loadable(gru_run):
    import keras

    for name in EXPECTED_FILES + ["plots/confusion.png"]:
        assert (gru_run / name).is_file(), name
    assert not [p for p in gru_run.parent.iterdir() if p.name.startswith(".gru.")]  # no temp dirs left
    manifest, cfg, weights, split = load_run(gru_run)
    assert manifest["format"] == 1 and manifest["dataset"] == "file:fixed.npz"
    assert manifest["classes"] == ["0", "1", "2"] and manifest["max_len"] == 12
    assert len(manifest["norm"]["mean"]) == 3 and manifest["reset_after"] is True
    assert set(weights) == {"layer0_kernel", "layer0_recurrent", "layer0_bias", "head_kernel", "head_bias"}
    assert weights["layer0_kernel"].shape == (3, 24) and weights["layer0_bias"].shape == (2, 24)
    assert all(w.dtype == np.float32 for w in weights.values())
    n = len(split["lengths"])
    assert split["x"].shape == (n, 12, 3) and split["x"].dtype == np.float32
    assert split["lengths"].dtype == np.int32 and split["y"].dtype == np.int64
    assert split["float_outputs"].shape == (n, 12, 3)

    metrics = json.loads((gru_run / "metrics.json").read_text())
    for key in ["accuracy", "argmax_agreement", "final_max_abs", "final_mean_abs", "step_max_abs",
                "step_mean_abs", "runtime"]:
        assert key in metrics["tflite_int8"]
    assert metrics["tflite_int8"]["runtime"].startswith("LiteRT")
    assert metrics["params"] == M.expected_params(cfg) and metrics["macs_per_step"] == M.macs_per_step(cfg)
    assert metrics["total_seconds"] >= metrics["train_seconds"] > 0

    model = keras.saving.load_model(gru_run / "model.keras")
    step_model = keras.saving.load_model(gru_run / "step_model.keras")
    x = normalised_test_inputs(manifest, split)
    np.testing.assert_allclose(np.asarray(model(x)), split["float_outputs"][:, -1], atol=1e-5)
    states = M.zero_states(cfg, n)
    for t in range(12):
        y, *states = (np.asarray(v) for v in step_model([x[:, t], *states]))
        np.testing.assert_allclose(y, split["float_outputs"][:, t], atol=1e-5)


def test_weights_npz_reproduces_float_outputs_in_plain_numpy(gru_run):
    manifest, cfg, weights, split = load_run(gru_run)
    steps = M.run_numpy(weights, cfg, normalised_test_inputs(manifest, split), split["lengths"])
    np.testing.assert_allclose(steps, split["float_outputs"], atol=1e-6)


def test_int8_graph_is_integer_only(gru_run):
    from tinyrnn.host.training.convert import make_interpreter

    tflite = (gru_run / "model_int8.tflite").read_bytes()
    assert non_integer_tensors(tflite) == []
    interp = make_interpreter(tflite)
    for detail in interp.get_input_details() + interp.get_output_details():
        assert detail["dtype"] == np.int8
    names = sorted(interp.get_signature_runner().get_input_details())
    assert names == ["h0", "x"]


def test_same_seed_same_weights_and_force_replaces(gru_run, workdir, fixed_data):
    again = workdir / "again"
    train(again, fixed_data)
    first, second = np.load(gru_run / "weights.npz"), np.load(again / "weights.npz")
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])

    marker = again / "marker.txt"
    marker.write_text("old")
    assert main(["--data", str(fixed_data), "--out", str(again), *FAST]) == 2  # exists, no --force
    assert marker.exists()
    train(again, fixed_data, "--force", "--seed", "1")
    assert not marker.exists() and (again / "metrics.json").is_file()
    assert not np.array_equal(np.load(again / "weights.npz")["head_bias"], first["head_bias"])
    assert [p.name for p in workdir.iterdir() if p.name.startswith(".again")] == []


def test_failed_run_leaves_no_directory(workdir, fixed_data, monkeypatch):
    import tinyrnn.host.training.pipeline

    def broken(artifact_dir, args, final_name):
        assert (artifact_dir / "model.json").is_file() and (artifact_dir / "weights.npz").is_file()
        raise RuntimeError("stage failed")

    monkeypatch.setattr(tinyrnn.host.training.pipeline, "run_later_stages", broken)
    with pytest.raises(RuntimeError):
        main(["--data", str(fixed_data), "--out", str(workdir / "broken"), *FAST, "--epochs", "1"])
    assert [p.name for p in workdir.iterdir() if "broken" in p.name] == []


def test_variable_length_run(variable_run):
    import keras

    manifest, cfg, weights, split = load_run(variable_run)
    lengths = split["lengths"]
    assert lengths.min() < lengths.max() == manifest["max_len"]
    past = np.arange(split["x"].shape[1])[None, :] >= lengths[:, None]
    assert np.all(split["float_outputs"][past] == 0) and np.all(split["x"][past] == 0)
    # The sequence model masks the sentinel padding; its final output equals the step model's at each length.
    model = keras.saving.load_model(variable_run / "model.keras")
    x = np.where(past[..., None], M.MASK_VALUE, normalised_test_inputs(manifest, split)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), M.final_outputs(split["float_outputs"], lengths), atol=1e-5)


def test_regression_run(workdir):
    seqs, _ = make_sequences(n=60, length=10, channels=2, variable=True, seed=4)
    out = train(workdir / "regression", write_npz(workdir / "reg.npz", seqs, regression_targets(seqs)))
    manifest, cfg, weights, split = load_run(out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert manifest["task"] == "regression" and "classes" not in manifest
    assert len(manifest["target_norm"]["mean"]) == 1
    assert split["y"].shape == (len(split["lengths"]), 1) and split["y"].dtype == np.float32
    assert "rmse" in metrics["float"] and "rmse" in metrics["tflite_int8"]
    assert "argmax_agreement" not in metrics["tflite_int8"]
    assert (out / "plots/regression.png").is_file()


@pytest.mark.parametrize("name,extra,weight_shapes", [
    ("lstm", ["--cell", "lstm"], {"layer0_bias": (32,), "layer0_recurrent": (8, 32)}),
    ("gru2", ["--layers", "2", "--no-reset-after"], {"layer1_kernel": (8, 24), "layer1_bias": (24,)}),
])
def test_lstm_and_stacked_runs(workdir, fixed_data, name, extra, weight_shapes):
    out = train(workdir / name, fixed_data, *extra)
    manifest, cfg, weights, split = load_run(out)
    for key, shape in weight_shapes.items():
        assert weights[key].shape == shape
    steps = M.run_numpy(weights, cfg, normalised_test_inputs(manifest, split), split["lengths"])
    np.testing.assert_allclose(steps, split["float_outputs"], atol=1e-6)
    assert non_integer_tensors((out / "model_int8.tflite").read_bytes()) == []


def test_help_documents_the_data_formats(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "sequence_id,label" in text and "lengths" in text and "japanese_vowels" in text


@pytest.mark.slow
def test_default_basic_motions_run(tmp_path, capsys):
    # Run time (issue: under 90 s) is a measured figure in metrics.json and the summary, not a timed test.
    out = tmp_path / "bm"
    assert main(["--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["float"]["accuracy"] >= 0.9
    assert metrics["tflite_int8"]["accuracy"] >= 0.85
    assert metrics["total_seconds"] > 0
    assert "artifacts:" in capsys.readouterr().out


def test_report_shows_kernel_outputs_side_by_side(gru_run, tmp_path):
    from tinyrnn.host.report.tflite_memory import memory_labels
    from tinyrnn.host.training.report import write_report

    manifest, cfg, weights, split = load_run(gru_run)
    metrics = json.loads((gru_run / "metrics.json").read_text())
    history = json.loads((gru_run / "history.json").read_text())
    rng = np.random.default_rng(0)
    real = (np.arange(split["x"].shape[1])[None, :] < split["lengths"][:, None])[..., None]
    kernel_steps = np.where(real, split["float_outputs"] + rng.normal(scale=1e-3, size=split["float_outputs"].shape),
                            0.0).astype(np.float32)
    metrics["kernel"] = {**compare_outputs(split["float_outputs"], kernel_steps, split["lengths"], split["y"],
                                           "classification"), "flash_bytes": 1234, "ram_bytes": 56}
    int8_steps = split["float_outputs"]  # any same-shaped outputs will do for drawing
    path = write_report(tmp_path, manifest, metrics, history, split, int8_steps, kernel_steps, ["a note"])
    text = path.read_text()
    assert "| figure | float | int8 TFLite | kernel |" in text
    flash_label = memory_labels("cortex-m4")["flash_bytes"]       # no model_int8.tflite in tmp_path: not measured
    assert f"| {flash_label} | not measured | not measured | 1234 |" in text and "a note" in text
    for name in ["training", "confusion", "traces", "errors"]:
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 1000


def test_training_says_and_stores_the_channels_it_took(workdir, capsys):
    """An extra column of a CSV would silently become an input: training names the channels it took, --channels
    chooses them, and model.json keeps their names for predict and harness --inputs to match by."""
    seqs, labels = make_sequences(n=40, length=10, channels=3, classes=2, seed=4)
    data = write_csv(workdir / "named.csv", seqs, labels)
    out = workdir / "named"
    assert main(["--data", str(data), "--out", str(out), *[a for a in FAST if a != "--quiet"],
                 "--channels", "ch2,ch0"]) == 0
    assert "channels: ch2, ch0 (" in capsys.readouterr().out
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["channels"] == ["ch2", "ch0"] and manifest["input_dim"] == 2
