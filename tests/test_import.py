"""`tinyrnn import`: models trained in their own framework inside the test, saved the way users save them,
imported, and checked against that framework's own outputs (issue 19).

Keras: GRU (both reset variants) and LSTM, 1 and 2 layers, classification and regression, with the model's own
normalisation or none (then the data's, folded into the weights), a logits head; every refused construct shows its
one line. One imported model runs bit-exact on qemu-mps2-an386 (emulator tier).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from synthetic import make_sequences, regression_targets, write_npz
from tinyrnn.host import cli
from tinyrnn.quantize.artifact import Artifact

pytestmark = pytest.mark.tensorflow

QUICK = ["--calibration-samples", "200", "--quiet"]


def keras():
    from tinyrnn.host.training.model import import_keras
    return import_keras()


def import_model(model_path, data, out, *extra):
    """`tinyrnn import` in-process; returns (exit code, artifact directory)."""
    return cli.main(["import", str(model_path), "--data", str(data), "--out", str(out), *QUICK, *extra]), out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("import")


@pytest.fixture(scope="module")
def class_data(workdir):
    seqs, labels = make_sequences(n=90, length=16, channels=3, classes=3, seed=4)
    return write_npz(workdir / "classes.npz", seqs, labels)


@pytest.fixture(scope="module")
def regression_data(workdir):
    seqs, _ = make_sequences(n=90, length=16, channels=3, classes=3, seed=5)
    return write_npz(workdir / "targets.npz", seqs, regression_targets(seqs) * 10 + 50)   # units far from 0 +- 1


def arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return z["x"], z["y"]


def keras_classifier(data, cell="gru", layers=1, reset_after=True, normalise=True, head="softmax", epochs=30):
    """A small Keras model trained on `data` the way a user writes one (Normalization adapted on the data)."""
    K = keras()
    L = K.layers
    x, y = arrays(data)
    K.utils.set_random_seed(1)
    stack = [K.Input((None, x.shape[-1]))]
    if normalise:
        norm = L.Normalization()
        norm.adapt(x.reshape(-1, x.shape[-1]))
        stack.append(norm)
    for l in range(layers):
        last = l == layers - 1
        stack.append(L.GRU(12, reset_after=reset_after, return_sequences=not last) if cell == "gru"
                     else L.LSTM(12, return_sequences=not last))
        stack.append(L.Dropout(0.1))
    regression = y.dtype.kind == "f"
    stack.append(L.Dense(1 if regression else 3, activation=None if regression or head != "softmax" else "softmax"))
    model = K.Sequential(stack)
    if regression:
        model.compile(K.optimizers.Adam(0.02), "mse")
    else:
        model.compile(K.optimizers.Adam(0.02), K.losses.SparseCategoricalCrossentropy(from_logits=head != "softmax"))
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return model, x


def check_against_keras(model, x, out, task="classification", agreement=0.99, logits=False):
    """The artifact's float reference is Keras' own output, and the kernel agrees with it."""
    artifact = Artifact.open(out)
    split = artifact.test_split()
    metrics = artifact.metrics()
    assert artifact.manifest.task == task
    final = split.float_outputs[np.arange(len(split.lengths)), split.lengths - 1]
    keras_final = np.asarray(model(split.x, training=False))
    if task == "classification":
        if logits:      # a linear head on class labels: the board adds the softmax
            keras_final = np.exp(keras_final) / np.exp(keras_final).sum(-1, keepdims=True)
        np.testing.assert_allclose(final, keras_final, atol=1e-5)
        assert metrics["kernel"]["argmax_agreement"] >= agreement
    else:
        t_mean, t_std = (np.asarray(v) for v in (artifact.manifest.target_norm["mean"],
                                                 artifact.manifest.target_norm["std"]))
        np.testing.assert_allclose(final * t_std + t_mean, keras_final, rtol=1e-4, atol=1e-3)
    for name in ("model.json", "weights.npz", "test_split.npz", "kernel.npz", "c/model_data.c", "report.md",
                 "metrics.json", "model_int8.tflite"):
        assert (out / name).is_file(), name
    return metrics


@pytest.mark.parametrize("cell,layers,reset_after", [("gru", 1, True), ("gru", 2, False), ("lstm", 1, False),
                                                     ("lstm", 2, False)])
def test_keras_classifiers_import_with_their_figures(workdir, class_data, cell, layers, reset_after):
    model, x = keras_classifier(class_data, cell, layers, reset_after)
    path = workdir / f"{cell}{layers}{reset_after}.keras"
    model.save(path)
    code, out = import_model(path, class_data, workdir / f"out-{cell}{layers}{reset_after}")
    assert code == 0
    manifest = Artifact.open(out).manifest
    assert (manifest.cell, manifest.layers, manifest.get("norm_source")) == (cell, layers, "model")
    if cell == "gru":
        assert manifest.reset_after is reset_after
    check_against_keras(model, x, out)


def test_keras_regression_without_normalisation_folds_the_data_norm(workdir, regression_data):
    model, x = keras_classifier(regression_data, "gru", 1, True, normalise=False, epochs=40)
    path = workdir / "regression.h5"          # the legacy format
    model.save(path)
    code, out = import_model(path, regression_data, workdir / "out-regression")
    assert code == 0
    assert Artifact.open(out).manifest.get("norm_source") == "data"
    metrics = check_against_keras(model, x, out, task="regression")
    assert metrics["kernel"]["final_max_abs"] < 0.05      # normalised target units


def test_a_logits_head_gets_the_boards_softmax(workdir, class_data, capsys):
    model, x = keras_classifier(class_data, "gru", 1, True, head="logits")
    path = workdir / "logits.keras"
    model.save(path)
    code, out = import_model(path, class_data, workdir / "out-logits")
    assert code == 0
    check_against_keras(model, x, out, logits=True)
    assert "taken as logits" in (out / "report.md").read_text()


def test_functional_model_with_rescaling_and_masking(workdir, class_data):
    K = keras()
    L = K.layers
    x, y = arrays(class_data)
    inputs = K.Input((None, 3))
    h = L.Rescaling(scale=0.5, offset=-1.0)(inputs)
    h = L.Masking(mask_value=0.0)(h)
    h = L.LSTM(10)(h)
    outputs = L.Dense(3, activation="softmax")(h)
    model = K.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, verbose=0)
    path = workdir / "functional.keras"
    model.save(path)
    code, out = import_model(path, class_data, workdir / "out-functional")
    assert code == 0
    norm = Artifact.open(out).manifest.norm
    np.testing.assert_allclose(norm["mean"], [2.0] * 3)
    np.testing.assert_allclose(norm["std"], [2.0] * 3)
    check_against_keras(model, x, out)


def refused(workdir, class_data, capsys, name, build):
    """Save the model `build(K, L)` returns, import it: exit 2 and one line naming the layer."""
    K = keras()
    model = build(K, K.layers)
    path = workdir / f"refused-{name}.keras"
    model.save(path)
    capsys.readouterr()
    code, out = import_model(path, class_data, workdir / f"refused-{name}")
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def seq(K, *layers, d=3):
    return K.Sequential([K.Input((None, d)), *layers])


REFUSALS = {
    "bidirectional": (lambda K, L: seq(K, L.Bidirectional(L.GRU(4), name="bi"), L.Dense(3, activation="softmax")),
                      "layer 'bi' (Bidirectional): a bidirectional layer (a stream cannot look ahead)"),
    "backwards": (lambda K, L: seq(K, L.GRU(4, go_backwards=True, name="back"), L.Dense(3)),
                  "layer 'back' (GRU): go_backwards=True"),
    "activation": (lambda K, L: seq(K, L.LSTM(4, activation="relu", name="relu_lstm"), L.Dense(3)),
                   "layer 'relu_lstm' (LSTM): activation 'relu'"),
    "convolution": (lambda K, L: seq(K, L.Conv1D(4, 3, name="conv"), L.GRU(4), L.Dense(3)),
                    "layer 'conv' (Conv1D): this layer"),
    "attention": (lambda K, L: seq(K, L.GRU(4, return_sequences=True), L.Attention(name="att"), L.Dense(3)),
                  "layer 'att'"),
    "simple_rnn": (lambda K, L: seq(K, L.SimpleRNN(4, name="simple"), L.Dense(3)),
                   "layer 'simple' (SimpleRNN): this layer"),
    "two_dense": (lambda K, L: seq(K, L.GRU(4), L.Dense(5, name="hidden"), L.Dense(3, name="out")),
                  "layer 'hidden' (Dense): a dense head with activation"),
    "too_wide": (lambda K, L: seq(K, L.GRU(300, name="wide"), L.Dense(3)),
                 "300 units; the kernel takes at most 256"),
    "no_recurrent": (lambda K, L: seq(K, L.Dense(3, name="only")),
                     "layer 'only' (Dense): a dense layer before the recurrent layers"),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_unsupported_keras_constructs_are_one_line(workdir, class_data, capsys, name):
    build, expected = REFUSALS[name]
    err = refused(workdir, class_data, capsys, name, build)
    assert expected in err
    if name != "too_wide":
        assert "supported:" in err


def test_files_that_are_not_models_are_one_line(workdir, class_data, capsys):
    junk = workdir / "junk.keras"
    junk.write_bytes(b"not a model")
    for path, expected in [(junk, "Keras cannot load it"), (workdir / "missing.keras", "no such model file"),
                           (class_data, "unknown model file type '.npz'")]:
        code, _ = import_model(path, class_data, workdir / "never")
        err = capsys.readouterr().err.strip()
        assert code == 2 and expected in err and len(err.splitlines()) == 1, err


def test_data_that_does_not_fit_the_model_is_one_line(workdir, capsys):
    seqs, labels = make_sequences(n=30, length=8, channels=4, classes=3)
    data = write_npz(workdir / "four_channels.npz", seqs, labels)
    K = keras()
    model = seq(K, K.layers.GRU(4), K.layers.Dense(3, activation="softmax"))
    model.save(workdir / "three_inputs.keras")
    code, _ = import_model(workdir / "three_inputs.keras", data, workdir / "never")
    err = capsys.readouterr().err.strip()
    assert code == 2 and "the data has 4 channels, the model takes 3" in err


@pytest.mark.emulator
def test_imported_keras_gru_is_bit_exact_on_qemu_mps2_an386(workdir, class_data):
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    out = workdir / "out-gru1True"
    if not out.exists():
        model, _ = keras_classifier(class_data)
        model.save(workdir / "board.keras")
        assert import_model(workdir / "board.keras", class_data, out)[0] == 0
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "--board", "qemu-mps2-an386",
                           "--model", str(out)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((out / "hw" / "qemu-mps2-an386" / "results.json").read_text())
    assert run["bit_exact"]["mismatched_values"] == 0 and run["passed"]


# ---- PyTorch ----------------------------------------------------------------------------------------------
def torch_or_skip():
    return pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'tinyrnn[torch]')")


def torch_net(data, cell="gru", layers=1, batch_first=True, softmax=False, extra=None, epochs=60, **rnn_options):
    """A PyTorch classifier as users write one: (x - mean) / std from buffers, nn.GRU/nn.LSTM, nn.Linear."""
    torch = torch_or_skip()
    nn = torch.nn
    x, y = arrays(data)
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            frames = x.reshape(-1, x.shape[-1])
            self.register_buffer("mean", torch.tensor(frames.mean(0), dtype=torch.float32))
            self.register_buffer("std", torch.tensor(frames.std(0), dtype=torch.float32))
            rnn = nn.GRU if cell == "gru" else nn.LSTM
            self.batch_first = batch_first
            self.rnn = rnn(x.shape[-1], 12, num_layers=layers, batch_first=batch_first, **rnn_options)
            self.extra = extra if extra is not None else nn.Identity()
            self.head = nn.Linear(rnn_options.get("proj_size") or 12, 3)     # a projected LSTM gives proj_size
            self.out = nn.Softmax(dim=-1) if softmax else nn.Identity()

        def forward(self, inputs):
            z = (inputs - self.mean) / self.std
            if not self.batch_first:
                z = z.transpose(0, 1)
            seq, _ = self.rnn(z)
            last = seq[:, -1] if self.batch_first else seq[-1]
            return self.out(self.head(self.extra(last)))

    net = Net()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    for _ in range(epochs):
        optimiser.zero_grad()
        out = net(xs)
        loss = (nn.functional.nll_loss(torch.log(out + 1e-9), ys) if softmax
                else nn.functional.cross_entropy(out, ys))
        loss.backward()
        optimiser.step()
    return net.eval(), x


def check_against_torch(net, out, softmax=False):
    torch = torch_or_skip()
    artifact = Artifact.open(out)
    split = artifact.test_split()
    final = split.float_outputs[np.arange(len(split.lengths)), split.lengths - 1]
    with torch.no_grad():
        theirs = net(torch.from_numpy(split.x)).numpy()
    if not softmax:
        theirs = np.exp(theirs) / np.exp(theirs).sum(-1, keepdims=True)
    np.testing.assert_allclose(final, theirs, atol=1e-5)
    metrics = artifact.metrics()
    assert metrics["kernel"]["argmax_agreement"] >= 0.99
    return metrics


@pytest.mark.parametrize("form,cell,layers,batch_first", [("script", "gru", 1, True), ("export", "gru", 2, False),
                                                           ("export", "lstm", 1, True), ("script", "lstm", 2, False)])
def test_pytorch_models_import_with_their_figures(workdir, class_data, form, cell, layers, batch_first):
    torch = torch_or_skip()
    net, x = torch_net(class_data, cell, layers, batch_first)
    if form == "script":
        path = workdir / f"torch-{cell}{layers}.pt"
        torch.jit.save(torch.jit.script(net), str(path))
    else:
        path = workdir / f"torch-{cell}{layers}.pt2"
        torch.export.save(torch.export.export(net, (torch.from_numpy(x[:2]),)), str(path))
    code, out = import_model(path, class_data, workdir / f"out-torch-{form}-{cell}{layers}")
    assert code == 0
    manifest = Artifact.open(out).manifest
    assert (manifest.cell, manifest.layers, manifest.get("norm_source")) == (cell, layers, "model")
    check_against_torch(net, out)


def test_pytorch_softmax_module_is_the_head(workdir, class_data):
    torch = torch_or_skip()
    net, _ = torch_net(class_data, softmax=True)
    path = workdir / "torch-softmax.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    code, out = import_model(path, class_data, workdir / "out-torch-softmax")
    assert code == 0
    check_against_torch(net, out, softmax=True)


TORCH_REFUSALS = {
    "bidirectional": ({"bidirectional": True}, "module 'rnn' (GRU): a bidirectional layer"),
    "projection": ({"cell": "lstm", "proj_size": 4}, "module 'rnn' (LSTM): an LSTM projection"),
    "second_linear": ({"extra": "linear"}, "2 nn.Linear modules"),
}


@pytest.mark.parametrize("name", sorted(TORCH_REFUSALS))
def test_unsupported_pytorch_constructs_are_one_line(workdir, class_data, capsys, name):
    torch = torch_or_skip()
    options, expected = TORCH_REFUSALS[name]
    options = dict(options)
    if options.get("extra") == "linear":
        options["extra"] = torch.nn.Linear(12, 12)
    net, _ = torch_net(class_data, epochs=1, **options)
    path = workdir / f"torch-refused-{name}.pt"
    torch.jit.save(torch.jit.script(net), str(path))
    capsys.readouterr()
    code, out = import_model(path, class_data, workdir / f"torch-refused-{name}")
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and expected in err, err
