"""Your own recordings through the model: the numpy-only readers (CSV, NPZ), the library's pre-processing
(normalisation and downsampling folded into integer input steps), `tinyrnn predict` on the host, and
`tinyrnn harness --inputs` on a real emulated board (QEMU, real pty): board vs twin bit-exact, vs float."""

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.host.check import recordings
from tinyrnn.host.cli import main
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin import preprocess as pp

pytestmark = pytest.mark.fast

BOARD = "qemu-mps2-an386"


def _model(path, downsample=1, **kw):
    model = make_artifact(path, units=8, n=4, steps=12, k=3, **kw)
    manifest = json.loads((model / "model.json").read_text())
    manifest["downsample"] = downsample
    (model / "model.json").write_text(json.dumps(manifest))
    return model


def _frames(seed=0, n=4, d=6):
    rng = np.random.default_rng(seed)
    return [(rng.normal(1.5, 3.0, (length, d))).astype(np.float32) for length in rng.integers(5, 14, n)]


def _write_csv(path, seqs, labels=None, split=False):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sequence_id"] + (["label"] if labels is not None else []) + (["split"] if split else [])
                   + [f"ch{j}" for j in range(seqs[0].shape[1])])
        for i, s in enumerate(seqs):
            for frame in s:
                w.writerow([f"rec-{i}"] + ([labels[i]] if labels is not None else []) + (["test"] if split else [])
                           + [repr(float(v)) for v in frame])
    return path


def test_csv_and_npz_forms_read_the_same(tmp_path):
    seqs = _frames()
    labels = ["class0", "class2", "class1", "class0"]
    from_csv = recordings.load_recordings(_write_csv(tmp_path / "r.csv", seqs, labels, split=True))
    padded = np.zeros((len(seqs), max(map(len, seqs)), 6), np.float32)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    np.savez(tmp_path / "padded.npz", x=padded, lengths=np.array([len(s) for s in seqs]), y=np.array(labels))
    objects = np.empty(len(seqs), dtype=object)
    objects[:] = seqs
    np.savez(tmp_path / "objects.npz", x=objects[:2], y=np.array(labels[:2]), x_test=objects[2:],
             y_test=np.array(labels[2:]))
    for rec in (from_csv, recordings.load_recordings(tmp_path / "padded.npz"),
                recordings.load_recordings(tmp_path / "objects.npz")):
        assert len(rec) == 4 and [str(v) for v in rec.labels] == labels
        for got, want in zip(rec.sequences, seqs):
            np.testing.assert_array_equal(got, want)
    assert from_csv.names == ["rec-0", "rec-1", "rec-2", "rec-3"]
    assert recordings.load_recordings(tmp_path / "objects.npz").names[2] == "x_test[0]"
    assert recordings.load_recordings(_write_csv(tmp_path / "u.csv", seqs)).labels is None


def test_preprocessing_is_the_librarys(tmp_path):
    """x_q = the library's push_float over blocks of `downsample` frames; leftover frames make no step; a
    sequence shorter than one block is skipped; the float model sees the normalised block means."""
    model = _model(tmp_path / "m", downsample=3)
    twin, manifest, weights = recordings.load_model(model)
    seqs = _frames() + [np.ones((2, 6), np.float32)]
    rec = recordings.Recordings(tmp_path / "x.csv", [f"s{i}" for i in range(5)], seqs, None)
    prep = recordings.prepare(rec, twin, manifest)
    assert prep.skipped == ["s4"] and list(prep.lengths) == [len(s) // 3 for s in seqs[:4]]
    bits = pp.float_frac_bits(twin.params.norm_mean, twin.params.norm_std)
    fold = pp.fold_input(twin.params.norm_mean, twin.params.norm_std, twin.params.input_frac_bits, 2.0 ** -bits, 3)
    for i, s in enumerate(seqs[:4]):
        n = prep.lengths[i]
        np.testing.assert_array_equal(prep.x_q[i, :n], pp.quantize_frames(pp.float_to_raw(s, bits), fold))
        means = s[:3 * n].astype(np.float64).reshape(n, 3, 6).mean(axis=1)
        np.testing.assert_allclose(prep.x_norm[i, :n], (means - manifest["norm"]["mean"]) / manifest["norm"]["std"],
                                   rtol=1e-6, atol=1e-6)
        # and within one LSB of the twin's own float quantisation of the block means
        assert np.abs(prep.x_q[i, :n].astype(int) - twin.quantize_input(means)).max() <= 1


def test_predict_prints_twin_and_float(tmp_path, capsys):
    model = _model(tmp_path / "m")
    seqs = _frames()
    csv_path = _write_csv(tmp_path / "r.csv", seqs, ["class0", "class1", "class2", "class0"])
    assert main(["predict", "--model", str(model), str(csv_path), "--json", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert "twin vs float: final argmax agreement" in out and "accuracy on 4 labelled" in out
    assert sum(line.startswith("rec-") for line in out.splitlines()) == 4
    record = json.loads((tmp_path / "p.json").read_text())
    twin, manifest, _ = recordings.load_model(model)
    for row, seq, q in zip(record["sequences"], seqs, record["twin_outputs_q"]):
        assert row["steps"] == len(seq) == len(q)
        x_q = recordings.prepare(recordings.Recordings(csv_path, ["a"], [seq], None), twin, manifest).x_q[0]
        np.testing.assert_array_equal(np.array(q), twin.run(x_q))
        assert row["twin_class"] == manifest["classes"][int(np.argmax(q[-1]))]


def test_predict_regression_values_in_target_units(tmp_path, capsys):
    model = make_artifact(tmp_path / "r", task="regression", units=8, n=3, steps=8, k=2)
    manifest = json.loads((model / "model.json").read_text())
    manifest["target_norm"] = {"mean": [10.0, -5.0], "std": [2.0, 4.0]}
    (model / "model.json").write_text(json.dumps(manifest))
    seqs = _frames(n=3)
    x = np.empty(3, dtype=object)
    x[:] = seqs
    np.savez(tmp_path / "r.npz", x=x, y=np.array([[10.0, -5.0], [11.0, -4.0], [9.0, -6.0]]))
    assert main(["predict", "--model", str(model), str(tmp_path / "r.npz"), "--json", str(tmp_path / "o.json")]) == 0
    assert "RMSE on 3 labelled" in capsys.readouterr().out
    rows = json.loads((tmp_path / "o.json").read_text())["sequences"]
    twin, manifest, _ = recordings.load_model(model)
    prep = recordings.prepare(recordings.load_recordings(tmp_path / "r.npz"), twin, manifest)
    last = twin.dequantize_output(twin.run(prep.x_q[0])[-1])
    np.testing.assert_allclose(rows[0]["twin"], last * [2.0, 4.0] + [10.0, -5.0])


@pytest.mark.parametrize("problem, message", [
    ("channels", "has 5 channels, the model takes 6"),
    ("label", "not one of the model's classes"),
    ("no_id", "no column sequence_id"),
    ("semicolon", "separates its values with ';'"),
    ("text", "line 3: 'abc' is not a number"),
    ("extension", "has the extension '.txt'"),
])
def test_unusable_recordings_are_one_line(tmp_path, capsys, problem, message):
    model = _model(tmp_path / "m")
    path = tmp_path / "r.csv"
    seqs = _frames(n=2)
    if problem == "channels":
        _write_csv(path, [s[:, :5] for s in seqs])
    elif problem == "label":
        _write_csv(path, seqs, ["class0", "walking"])
    elif problem == "no_id":
        path.write_text("label,a,b\nx,1,2\n")
    elif problem == "semicolon":
        path.write_text("sequence_id;label;a\n1;x;2\n")
    elif problem == "text":
        path.write_text("sequence_id,a,b,c,d,e,f\ns,1,2,3,4,5,6\ns,1,abc,3,4,5,6\n")
    else:
        path = tmp_path / "r.txt"
        path.write_text("x")
    assert main(["predict", "--model", str(model), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["a folder", "a missing folder"])
def test_predict_json_to_a_path_that_cannot_be_written(tmp_path, capsys, where):
    model = _model(tmp_path / "m")
    csv_path = _write_csv(tmp_path / "r.csv", _frames(n=2))
    target = tmp_path if where == "a folder" else tmp_path / "missing" / "p.json"
    assert main(["predict", "--model", str(model), str(csv_path), "--json", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --json {target}: cannot write it") and len(err.splitlines()) == 1, err


def _named(model, channels):
    manifest = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps(manifest | {"channels": channels}))
    return model


def test_recording_columns_are_matched_to_the_model_by_name(tmp_path, capsys):
    """Columns in another order are put in the model's; the outputs are those of the file in the model's order."""
    model = _named(_model(tmp_path / "m"), [f"ch{j}" for j in range(6)])
    seqs = _frames(n=3)
    in_order = _write_csv(tmp_path / "a.csv", seqs)
    order = [3, 1, 5, 0, 2, 4]
    shuffled = tmp_path / "b.csv"
    with open(shuffled, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sequence_id"] + [f"ch{j}" for j in order])
        for i, s in enumerate(seqs):
            for frame in s:
                w.writerow([f"rec-{i}"] + [repr(float(frame[j])) for j in order])
    outputs = []
    for path in (in_order, shuffled):
        assert main(["predict", "--model", str(model), str(path), "--json", str(tmp_path / "p.json")]) == 0
        outputs.append(json.loads((tmp_path / "p.json").read_text())["twin_outputs_q"])
    assert outputs[0] == outputs[1]
    capsys.readouterr()


@pytest.mark.parametrize("columns, words", [(["ch0", "ch1", "ch2", "ch3", "ch4", "subject"], ["missing ch5",
                                                                                               "unknown subject"]),
                                            (["ch0", "ch1", "ch2", "ch3", "ch4", "ch5", "subject"],
                                             ["unknown subject"])])
def test_recording_columns_that_are_not_the_models_are_refused_by_name(tmp_path, capsys, columns, words):
    model = _named(_model(tmp_path / "m"), [f"ch{j}" for j in range(6)])
    path = tmp_path / "r.csv"
    path.write_text("sequence_id," + ",".join(columns) + "\n" + "s," + ",".join(["1.0"] * len(columns)) + "\n")
    assert main(["predict", "--model", str(model), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not the model's" in err and all(w in err for w in words), err
    assert "ch0, ch1, ch2, ch3, ch4, ch5" in err


def test_predict_runs_on_the_base_install(tmp_path):
    """No pandas, no TensorFlow: the command runs with both made unimportable."""
    model = _model(tmp_path / "m")
    csv_path = _write_csv(tmp_path / "r.csv", _frames(n=2))
    code = ("import sys; sys.modules.update(pandas=None, tensorflow=None, keras=None, sktime=None); "
            "from tinyrnn.host.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "predict", "--model", str(model), str(csv_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "twin vs float" in proc.stdout


@pytest.fixture
def emulated_board(tmp_path, monkeypatch):
    """A synthetic model downsampled by 2, built for qemu-mps2-an386 and started in QEMU; stopped afterwards."""
    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        pytest.fail("arm-none-eabi-gcc and qemu-system-arm are required")
    from tinyrnn.host.device import qemu
    from tinyrnn.host.device.boards import load_board
    from tinyrnn.host.device.firmware import build
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(tmp_path / "run"))   # never touches the user's emulators
    model = _model(tmp_path / "model", downsample=2)
    board = load_board(BOARD)
    record = qemu.start(board, build(board, model))
    try:
        yield model, record.port
    finally:
        qemu.stop(BOARD)


@pytest.mark.emulator
def test_harness_inputs_on_qemu(emulated_board, tmp_path, capsys, monkeypatch):
    model, port = emulated_board
    seqs = _frames(seed=3, n=5) + [np.zeros((1, 6), np.float32)]          # the last: shorter than one step
    csv_path = _write_csv(tmp_path / "mine.csv", seqs, ["class0", "class1", "class2", "class0", "class1", "class2"])
    code = main(["harness", "--port", port, "--model", str(model), "--inputs", str(csv_path), "--quiet",
                 "--no-plots"])
    out = capsys.readouterr().out
    assert code == 0, out
    results = json.loads((model / "inputs" / "mine" / BOARD / "results.json").read_text())
    assert results["bit_exact"]["mismatched_values"] == 0 and results["passed"]
    assert results["sequences"] == 5 and results["steps"] == sum(len(s) // 2 for s in seqs[:5])
    assert results["inputs"]["skipped"] == ["rec-5"] and results["thresholds"] == {}
    assert "accuracy" in results["fidelity"] and "step_max_abs" in results["fidelity"]
    assert not (model / "hw").exists()                   # never among the test split's board figures
    # the board's predictions are the host's (tinyrnn predict), sequence by sequence
    assert main(["predict", "--model", str(model), str(csv_path), "--json", str(tmp_path / "p.json")]) == 0
    host = json.loads((tmp_path / "p.json").read_text())["sequences"]
    board = results["inputs"]["per_sequence"]
    assert [r["board_class"] for r in board] == [r["twin_class"] for r in host]
    assert [r["float_class"] for r in board] == [r["float_class"] for r in host]
    assert "bit-exact vs twin: OK" in out and "PASS" in out
    # a read-only artifact directory: the verdict is printed, then what could not be written (root ignores modes:
    # the write fails here as it would for a user)
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(model / "inputs"))
    monkeypatch.setattr("tinyrnn.host.commands.harness.write_outputs", refused)
    code = main(["harness", "--port", port, "--model", str(model), "--inputs", str(csv_path), "--quiet",
                 "--no-plots"])
    out, err = capsys.readouterr()
    assert code == 2 and "bit-exact vs twin: OK" in out and out.rstrip().endswith("PASS"), out
    assert err.startswith("error: the verdict above stands, but its results could not be written") and \
        "Permission denied" in err and len(err.strip().splitlines()) == 1, err


def test_limit_applies_to_inputs(tmp_path):
    model = _model(tmp_path / "m")
    assert recordings.load_recordings(_write_csv(tmp_path / "r.csv", _frames())).names[0] == "rec-0"
    from tinyrnn.host.check.harness import output_dir
    assert output_dir(model, "b", 3, inputs="x/mine.csv") == model / "inputs" / "mine" / "b-limit3"
    with pytest.raises(UserError):
        recordings.load_recordings(tmp_path / "missing.csv")
