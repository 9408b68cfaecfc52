"""`tinyrnn import`: models trained in their own framework inside the test, saved the way users save them,
imported, and checked against that framework's own outputs (issue 19).

Per framework (Keras, PyTorch, ONNX): GRU (Keras: both reset variants; PyTorch: its one form; ONNX: both
linear_before_reset values) and LSTM, 1 and 2 layers, classification and regression, post-training argmax
agreement >= 0.99; int8-grid fine-tuning in Keras and PyTorch against the fidelity targets; every refused construct
shows its one line. Emulator tier: the imported Keras GRU on qemu-mps2-an386, the imported PyTorch GRU and ONNX
LSTM on qemu-mps2-an386 and qemu-microbit, bit-exact.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("cell,layers,reset_after", [("gru", 1, True), ("gru", 2, True), ("gru", 1, False),
                                                     ("gru", 2, False), ("lstm", 1, False), ("lstm", 2, False)])
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


@pytest.mark.parametrize("cell,layers,reset_after,normalise", [("gru", 1, True, False), ("gru", 2, False, True),
                                                               ("lstm", 1, False, True), ("lstm", 2, False, False)])
def test_keras_regression_imports_with_its_figures(workdir, regression_data, cell, layers, reset_after, normalise):
    """Without the model's own normalisation, the data's is folded into the first layer."""
    model, x = keras_classifier(regression_data, cell, layers, reset_after, normalise=normalise, epochs=40)
    path = workdir / f"regression-{cell}{layers}{reset_after}.h5"          # the legacy format
    model.save(path)
    code, out = import_model(path, regression_data, workdir / f"out-regression-{cell}{layers}{reset_after}")
    assert code == 0
    manifest = Artifact.open(out).manifest
    assert (manifest.cell, manifest.layers, manifest.get("norm_source")) == \
        (cell, layers, "model" if normalise else "data")
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
    model.compile(K.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
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


def attention_model(K, L):
    x = K.Input((None, 3))
    h = L.GRU(4, return_sequences=True)(x)
    a = L.Attention(name="att")([h, h])
    return K.Model(x, L.Dense(3)(L.GRU(4)(a)))


REFUSALS = {
    "bidirectional": (lambda K, L: seq(K, L.Bidirectional(L.GRU(4), name="bi"), L.Dense(3, activation="softmax")),
                      "layer 'bi' (Bidirectional): a bidirectional layer (a stream cannot look ahead)"),
    "backwards": (lambda K, L: seq(K, L.GRU(4, go_backwards=True, name="back"), L.Dense(3)),
                  "layer 'back' (GRU): go_backwards=True"),
    "activation": (lambda K, L: seq(K, L.LSTM(4, activation="relu", name="relu_lstm"), L.Dense(3)),
                   "layer 'relu_lstm' (LSTM): activation 'relu'"),
    "convolution": (lambda K, L: seq(K, L.Conv1D(4, 3, name="conv"), L.GRU(4), L.Dense(3)),
                    "layer 'conv' (Conv1D): this layer"),
    "attention": (lambda K, L: attention_model(K, L), "layer 'att' (Attention): this layer"),
    "simple_rnn": (lambda K, L: seq(K, L.SimpleRNN(4, name="simple"), L.Dense(3)),
                   "layer 'simple' (SimpleRNN): this layer"),
    "two_dense": (lambda K, L: seq(K, L.GRU(4), L.Dense(5, name="hidden"), L.Dense(3, name="out")),
                  "layer 'out' (Dense): a second dense layer"),
    "relu_head": (lambda K, L: seq(K, L.GRU(4), L.Dense(3, activation="relu", name="relu_head")),
                  "layer 'relu_head' (Dense): a dense head with activation 'relu'"),
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
                           "--model", str(out)], capture_output=True, text=True, timeout=900, cwd=workdir,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})     # (its build/ and emulators: the test's own)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads((out / "hw" / "qemu-mps2-an386" / "results.json").read_text())
    assert run["bit_exact"]["mismatched_values"] == 0 and run["passed"]


# ---- PyTorch and ONNX -------------------------------------------------------------------------------------
# The user's PyTorch training runs in its own process, as users run it, and so does `tinyrnn import`: PyTorch's
# triton crashes when it is loaded into a process that already holds TensorFlow (this test process does).
USER_SCRIPT = '''
import sys, numpy as np, torch
nn = torch.nn
cell, layers, batch_first, form, out, data, extra = sys.argv[1:8]
layers, batch_first = int(layers), batch_first == "1"
rnn_options = {"bidirectional": True} if extra == "bidirectional" else {"proj_size": 4} if extra == "proj" else {}
z = np.load(data)
x, y = z["x"], z["y"]
regression = y.dtype.kind == "f"
torch.manual_seed(0)
torch.set_num_threads(1)        # the machine's cores are shared


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        frames = x.reshape(-1, x.shape[-1])
        self.register_buffer("mean", torch.tensor(frames.mean(0), dtype=torch.float32))
        self.register_buffer("std", torch.tensor(frames.std(0), dtype=torch.float32))
        self.batch_first = batch_first
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(x.shape[-1], 12, num_layers=layers, batch_first=batch_first, **rnn_options)
        features = 4 if extra == "proj" else 24 if extra == "bidirectional" else 12
        self.extra = nn.Linear(features, features) if extra == "linear" else nn.Identity()
        self.head = nn.Linear(features, 1 if regression else 3)
        self.out = nn.Softmax(dim=-1) if extra == "softmax" else nn.Identity()
        if regression:      # start at the targets' mean, as users do for targets far from 0
            nn.init.constant_(self.head.bias, float(y.mean()))

    def forward(self, inputs):
        h = (inputs - self.mean) / self.std
        if not self.batch_first:
            h = h.transpose(0, 1)
        seq, _ = self.rnn(h)
        last = seq[:, -1] if self.batch_first else seq[-1]
        return self.out(self.head(self.extra(last)))


net = Net()
optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32 if regression else np.int64))
for _ in range(150):
    optimiser.zero_grad()
    out_ = net(xs)
    if regression:
        loss = nn.functional.mse_loss(out_[:, 0], ys)
    elif extra == "softmax":
        loss = nn.functional.nll_loss(torch.log(out_ + 1e-9), ys)
    else:
        loss = nn.functional.cross_entropy(out_, ys)
    loss.backward()
    optimiser.step()
net.eval()
if form == "script":
    torch.jit.save(torch.jit.script(net), out)
elif form == "export":      # torch.export fixes a recurrent model's sequence length; the batch stays free
    torch.export.save(torch.export.export(net, (xs[:2],), dynamic_shapes={"inputs": {0: torch.export.Dim.DYNAMIC}}),
                      out)
else:
    torch.onnx.export(net, (xs[:2],), out, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n", 1: "t"}})
with torch.no_grad():
    np.save(out + ".outputs.npy", net(xs).numpy())     # what the user's own model says, for the test to compare
'''


def torch_or_skip():
    pytest.importorskip("torch", reason="the torch extra is not installed (pip install 'tinyrnn[torch]')")


def train_in_pytorch(workdir, data, cell, layers, batch_first, form, extra="none"):
    """Run the user's training script; returns the saved model's path."""
    torch_or_skip()
    if form == "onnx":
        pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'tinyrnn[onnx]')")
    script = workdir / "user_train.py"
    script.write_text(USER_SCRIPT)
    suffix = {"script": ".pt", "export": ".pt2", "onnx": ".onnx"}[form]
    path = workdir / f"torch-{form}-{cell}{layers}{int(batch_first)}-{extra}-{Path(data).stem}{suffix}"
    if path.exists():       # trained already by another test of this module
        return path
    proc = subprocess.run([sys.executable, str(script), cell, str(layers), "1" if batch_first else "0", form, str(path),
                           str(data), extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


def import_in_own_process(model_path, data, out, *extra):
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "import", str(model_path), "--data", str(data),
                           "--out", str(out), *QUICK, *extra], capture_output=True, text=True, timeout=1800)
    return proc.returncode, proc.stderr.strip()


def check_against_user_outputs(model_path, data, out, probabilities=False):
    """The artifact's float reference after the last step is what the user's own model said, and the kernel
    agrees with it (classification: argmax agreement >= 0.99; regression: final max abs < 0.05 normalised)."""
    artifact = Artifact.open(out)
    split = artifact.test_split()
    x, _ = arrays(data)
    theirs = np.load(str(model_path) + ".outputs.npy")
    rows = [int(np.flatnonzero((x == split.x[i]).all(axis=(1, 2)))[0]) for i in range(len(split.x))]
    final = split.float_outputs[np.arange(len(split.lengths)), split.lengths - 1]
    metrics = artifact.metrics()
    if artifact.manifest.task == "regression":
        t_mean, t_std = (np.asarray(v) for v in (artifact.manifest.target_norm["mean"],
                                                 artifact.manifest.target_norm["std"]))
        np.testing.assert_allclose(final * t_std + t_mean, theirs[rows], rtol=1e-4, atol=1e-3)
        assert metrics["kernel"]["final_max_abs"] < 0.05
        return metrics
    if not probabilities:
        theirs = np.exp(theirs) / np.exp(theirs).sum(-1, keepdims=True)
    np.testing.assert_allclose(final, theirs[rows], atol=1e-5)
    assert metrics["kernel"]["argmax_agreement"] >= 0.99
    return metrics


# PyTorch's GRU has one form (the reset gate after the recurrent matmul: reset_after); ONNX's other form comes
# from Keras below. Each framework: GRU and LSTM, 1 and 2 layers, classification and regression.
PYTORCH_CASES = [
    ("script", "gru", 1, True, "softmax", "classes"), ("script", "gru", 2, True, "none", "classes"),
    ("script", "lstm", 1, False, "none", "classes"), ("export", "lstm", 2, False, "none", "classes"),
    ("script", "gru", 2, False, "none", "targets"), ("script", "lstm", 1, True, "none", "targets"),
    ("onnx", "gru", 1, True, "none", "classes"), ("onnx", "gru", 2, True, "none", "classes"),
    ("onnx", "lstm", 1, True, "none", "classes"), ("onnx", "lstm", 2, True, "none", "classes"),
    ("onnx", "gru", 1, True, "none", "targets"), ("onnx", "lstm", 2, True, "none", "targets")]
# (torch.onnx.export's graph of a module that transposes to a time-first nn.LSTM holds a Reshape fixed to the
# exported length: the import refuses it in one line, so the ONNX cases are batch-first modules.)


@pytest.mark.parametrize("form,cell,layers,batch_first,extra,labels", PYTORCH_CASES)
def test_pytorch_and_onnx_models_import_with_their_figures(workdir, class_data, regression_data, form, cell, layers,
                                                           batch_first, extra, labels):
    data = class_data if labels == "classes" else regression_data
    path = train_in_pytorch(workdir, data, cell, layers, batch_first, form, extra)
    out = workdir / f"out-{path.name}"
    code, err = import_in_own_process(path, data, out)
    assert code == 0, err
    manifest = Artifact.open(out).manifest
    assert (manifest.cell, manifest.layers, manifest.get("norm_source")) == (cell, layers, "model")
    assert manifest.task == ("classification" if labels == "classes" else "regression")
    if cell == "gru":
        assert manifest.reset_after is True     # PyTorch's GRU applies the reset gate after the matmul
    check_against_user_outputs(path, data, out, probabilities=extra == "softmax")


TORCH_REFUSALS = {
    "bidirectional": "module 'rnn' (GRU): a bidirectional layer (a stream cannot look ahead)",
    "proj": "module 'rnn' (LSTM): an LSTM projection (proj_size)",
    "linear": "2 nn.Linear modules",
}


@pytest.mark.parametrize("extra", sorted(TORCH_REFUSALS))
def test_unsupported_pytorch_constructs_are_one_line(workdir, class_data, extra):
    path = train_in_pytorch(workdir, class_data, "lstm" if extra == "proj" else "gru", 1, True, "script", extra)
    code, err = import_in_own_process(path, class_data, workdir / f"refused-{path.name}")
    assert code == 2 and len(err.splitlines()) == 1 and TORCH_REFUSALS[extra] in err, err


# ---- hand-built ONNX GRU graphs (linear_before_reset=0) with Keras GRU(reset_after=False) weights, and refused
# operators. (tf2onnx 1.17 writes a Keras 3 GRU as a Loop, which is refused: docs/import.md.)
def onnx_gru_graph(kernel, recurrent, bias, head_kernel, head_bias, attributes=None, after_gru="Squeeze"):
    """x (n, T, d) -> Transpose -> GRU -> Squeeze -> Gather(last step) -> MatMul -> Add -> Softmax."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'tinyrnn[onnx]')")
    h = recurrent.shape[0]
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    inits = [numpy_helper.from_array(a.astype(np.float32), name) for name, a in [
        ("W", kernel.T[None]), ("R", recurrent.T[None]), ("B", np.concatenate([bias, np.zeros_like(bias)])[None]),
        ("head_w", head_kernel), ("head_b", head_bias)]]
    inits += [numpy_helper.from_array(np.array([1], np.int64), "axis1"),
              numpy_helper.from_array(np.array(-1, np.int64), "last")]
    gru_attributes = {"hidden_size": h, "linear_before_reset": 0, **(attributes or {})}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2], name="to_time_major"),
             helper.make_node("GRU", ["xt", "W", "R", "B"], ["seq"], name="gru", **gru_attributes),
             helper.make_node(after_gru, ["seq", "axis1"] if after_gru == "Squeeze" else ["seq"], ["seq3"],
                              name="after_gru"),
             helper.make_node("Gather", ["seq3", "last"], ["final"], axis=0, name="last_step"),
             helper.make_node("MatMul", ["final", "head_w"], ["logits0"], name="head"),
             helper.make_node("Add", ["logits0", "head_b"], ["logits"], name="head_bias"),
             helper.make_node("Softmax", ["logits"], ["y"], axis=-1, name="softmax")]
    graph = helper.make_graph(nodes, "keras_gru", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                                                 ["n", "t", kernel.shape[0]])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", head_bias.shape[0]])],
                              inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def keras_gru_before(class_data):
    model, x = keras_classifier(class_data, "gru", 1, reset_after=False, normalise=False)
    kernel, recurrent, bias = model.layers[0].get_weights()
    head_kernel, head_bias = model.layers[-1].get_weights()
    return model, (kernel, recurrent, bias, head_kernel, head_bias)


def test_onnx_gru_linear_before_reset_0_imports(workdir, class_data, keras_gru_before):
    import onnx
    model, weights = keras_gru_before
    path = workdir / "keras_gru_before.onnx"
    onnx.save(onnx_gru_graph(*weights), str(path))
    code, out = import_model(path, class_data, workdir / "out-onnx-before")
    assert code == 0
    manifest = Artifact.open(out).manifest
    assert (manifest.cell, manifest.reset_after, manifest.get("norm_source")) == ("gru", False, "data")
    check_against_keras(model, None, out)       # onnxruntime's outputs are the Keras model's


ONNX_REFUSALS = {
    "bidirectional": ({"attributes": {"direction": "bidirectional"}}, "node 'gru' (GRU): direction 'bidirectional'"),
    "clip": ({"attributes": {"clip": 3.0}}, "node 'gru' (GRU): clip"),
    "activations": ({"attributes": {"activations": ["HardSigmoid", "Tanh"]}}, "node 'gru' (GRU): activations"),
    "operator": ({"after_gru": "Relu"}, "node 'after_gru' (Relu): this operator"),
    "loop": ({"after_gru": "Loop"}, "node 'after_gru' (Loop): a recurrent layer written as a loop"),
}


@pytest.mark.parametrize("name", sorted(ONNX_REFUSALS))
def test_unsupported_onnx_constructs_are_one_line(workdir, class_data, keras_gru_before, capsys, name):
    import onnx
    options, expected = ONNX_REFUSALS[name]
    path = workdir / f"refused-{name}.onnx"
    onnx.save(onnx_gru_graph(*keras_gru_before[1], **options), str(path))
    capsys.readouterr()
    code, out = import_model(path, class_data, workdir / f"refused-onnx-{name}")
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and expected in err, err


def test_keras_int8_grid_fine_tuning_meets_the_targets(workdir, class_data):
    from tinyrnn.quantize.twin.quantizer import snap_to_int8_grid
    model, x = keras_classifier(class_data, "gru", 1, True)
    path = workdir / "fine_tune.keras"
    model.save(path)
    code, out = import_model(path, class_data, workdir / "out-fine-tune", "--fine-tune-epochs", "5")
    assert code == 0
    artifact = Artifact.open(out)
    metrics = artifact.metrics()
    assert metrics["int8_grid"]["epochs"] == 5 and "accuracy" in metrics["int8_grid"]["float_before"]
    assert artifact.manifest.int8_grid_epochs == 5
    weights = artifact.weights()
    for name in ("layer0_recurrent", "head_kernel"):     # the model's own matrices are the kernel's int8 values
        np.testing.assert_allclose(weights[name], snap_to_int8_grid(weights[name]), atol=1e-7)
    kernel = metrics["kernel"]      # against the fine-tuned model in Keras
    assert kernel["argmax_agreement"] >= 0.995 and kernel["final_max_abs"] <= 0.01 and kernel["step_max_abs"] <= 0.05


def test_fine_tuning_is_refused_for_other_frameworks_in_one_line(workdir, class_data, capsys):
    path = workdir / "not_keras.onnx"
    pytest.importorskip("onnx")
    import onnx
    model, _ = keras_classifier(class_data, "gru", 1, reset_after=False, normalise=False, epochs=1)
    kernel, recurrent, bias = model.layers[0].get_weights()
    onnx.save(onnx_gru_graph(kernel, recurrent, bias, *model.layers[-1].get_weights()), str(path))
    capsys.readouterr()
    code, _ = import_model(path, class_data, workdir / "never-ft", "--fine-tune-epochs", "2")
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--fine-tune-epochs is available for Keras and PyTorch models only" in err, err


def test_pytorch_int8_grid_fine_tuning_meets_the_targets(workdir, class_data):
    """Straight-through fine-tuning of the user's TorchScript module in PyTorch: its matrices end on the kernel's
    int8 grid, the targets hold against the fine-tuned model, which is saved beside; the user's file is untouched."""
    path = train_in_pytorch(workdir, class_data, "gru", 1, False, "script")
    before = path.read_bytes()
    out = workdir / "out-torch-fine-tune"
    code, err = import_in_own_process(path, class_data, out, "--fine-tune-epochs", "5")
    assert code == 0, err
    assert path.read_bytes() == before
    from tinyrnn.quantize.twin.quantizer import snap_to_int8_grid
    artifact = Artifact.open(out)
    metrics = artifact.metrics()
    grid = metrics["int8_grid"]
    assert grid["epochs"] == 5 and grid["saved_as"] == "fine_tuned.pt" and "accuracy" in grid["float_before"]
    assert artifact.manifest.int8_grid_epochs == 5
    weights = artifact.weights()
    for name in ("layer0_kernel", "layer0_recurrent", "head_kernel"):    # the model's own normalisation: all on
        np.testing.assert_allclose(weights[name], snap_to_int8_grid(weights[name]), atol=1e-7)
    kernel = metrics["kernel"]      # against the fine-tuned model in PyTorch
    assert kernel["argmax_agreement"] >= 0.995 and kernel["final_max_abs"] <= 0.01 and kernel["step_max_abs"] <= 0.05
    # The saved model is the float reference: PyTorch (its own process) gives the artifact's final outputs.
    split = artifact.test_split()
    check = ("import sys, numpy as np, torch\n"
             "m = torch.jit.load(sys.argv[1]); x = np.load(sys.argv[2])\n"
             "with torch.no_grad(): y = m(torch.from_numpy(x))\n"
             "np.save(sys.argv[3], torch.softmax(y, -1).numpy())\n")
    np.save(workdir / "fine_tune_x.npy", split.x)
    proc = subprocess.run([sys.executable, "-c", check, str(out / "fine_tuned.pt"), str(workdir / "fine_tune_x.npy"),
                           str(workdir / "fine_tune_y.npy")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    final = split.float_outputs[np.arange(len(split.lengths)), split.lengths - 1]
    np.testing.assert_allclose(np.load(workdir / "fine_tune_y.npy"), final, atol=1e-5)


def test_fine_tuning_a_torch_export_program_is_one_line(workdir, class_data):
    path = train_in_pytorch(workdir, class_data, "lstm", 2, False, "export")
    code, err = import_in_own_process(path, class_data, workdir / "never-ft-pt2", "--fine-tune-epochs", "2")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "--fine-tune-epochs does not train a torch.export program" in err and "torch.jit.save" in err, err


# ---- an ONNX file tf2onnx wrote from a Keras 3 model (tests/data/tf2onnx/make_keras_lstm.py) ----------------
def test_a_tf2onnx_keras_lstm_imports(workdir):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'tinyrnn[onnx]')")
    x = np.random.default_rng(0).normal(size=(48, 16, 3)).astype("float32")      # make_keras_lstm.py's data
    data = write_npz(workdir / "tf2onnx.npz", list(x), (x[:, :, 0].mean(axis=1) > 0).astype(np.int64))
    model = Path(__file__).parent / "data" / "tf2onnx" / "keras_lstm.onnx"
    code, out = import_model(model, data, workdir / "out-tf2onnx")
    assert code == 0
    manifest = Artifact.open(out).manifest
    # Rescaling(0.5, offset=0.1) written as Mul, Add: x * 0.5 + 0.1 = (x - (-0.2)) / 2
    assert (manifest.cell, manifest.layers, manifest.get("norm_source")) == ("lstm", 2, "model")
    np.testing.assert_allclose(manifest.norm["mean"], [-0.2] * 3, rtol=1e-6)
    np.testing.assert_allclose(manifest.norm["std"], [2.0] * 3, rtol=1e-6)
    assert Artifact.open(out).metrics()["kernel"]["argmax_agreement"] >= 0.99


# ---- the imported PyTorch GRU and ONNX LSTM on two emulated boards -----------------------------------------
@pytest.mark.emulator
@pytest.mark.parametrize("form,cell,layers,extra", [("script", "gru", 1, "softmax"), ("onnx", "lstm", 2, "none")])
def test_imported_pytorch_gru_and_onnx_lstm_are_bit_exact_on_two_boards(workdir, class_data, form, cell, layers,
                                                                        extra):
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    path = train_in_pytorch(workdir, class_data, cell, layers, True, form, extra)
    out = workdir / f"out-{path.name}"
    if not out.exists():
        code, err = import_in_own_process(path, class_data, out)
        assert code == 0, err
    boards = ["qemu-mps2-an386", "qemu-microbit"]
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "--model", str(out),
                           *[arg for board in boards for arg in ("--board", board)]], capture_output=True, text=True,
                          timeout=1800, cwd=workdir, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Bit-exact with the twin, so the board's verdict on the fidelity targets is the import's (post-training).
    imported_verdict = Artifact.open(out).metrics()["verdict"]["passed"]
    for board in boards:
        run = json.loads((out / "hw" / board / "results.json").read_text())
        assert run["bit_exact"]["mismatched_values"] == 0 and run["passed"] == imported_verdict, board
