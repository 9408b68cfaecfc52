"""The twin's API and fidelity versus the float reference; the float reference versus Keras (slow);
refusal of unsupported models."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinyrnn.quantize.reference.float_ref import normalise, run_float
from tinyrnn.quantize.twin.params import UnsupportedModel
from tinyrnn.quantize.twin.quantizer import load_artifact, quantize_artifact, quantize_model
from tinyrnn.quantize.reference.metrics import FIDELITY_TARGETS, compare_outputs
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel

pytestmark = pytest.mark.fast

FIDELITY_CASES = [("gru", True, 1), ("gru", False, 2), ("lstm", True, 1), ("lstm", True, 2)]


@pytest.mark.parametrize("cell,reset_after,layers", FIDELITY_CASES)
def test_twin_tracks_the_float_model(tmp_path, cell, reset_after, layers):
    """Realistic-magnitude random weights, real-ish inputs, 100 steps: the spec's fidelity targets."""
    art = make_artifact(tmp_path / "m", cell=cell, reset_after=reset_after, d=6, units=32, k=4, layers=layers,
                        n=40, steps=100, seed=5)
    twin = TwinModel.from_artifact_dir(art)
    split = np.load(art / "test_split.npz")
    out = twin.dequantize_output(twin.run(twin.quantize_input(split["x"])))
    lengths = split["lengths"]
    out[np.arange(out.shape[1])[None, :] >= lengths[:, None]] = 0
    m = compare_outputs(split["float_outputs"], out, lengths, split["y"], "classification")
    assert m["argmax_agreement"] >= 0.975          # 40 sequences: at most one disagreement on a near-tie
    assert m["final_max_abs"] <= FIDELITY_TARGETS["final_max_abs_max"]
    assert m["step_max_abs"] <= FIDELITY_TARGETS["step_max_abs_max"]


def test_twin_api_shapes_and_conversions(tmp_path):
    art = make_artifact(tmp_path / "m", cell="gru", d=3, units=8, k=2, task="regression", n=4, steps=10)
    twin = TwinModel.from_artifact_dir(art)
    x = np.load(art / "test_split.npz")["x"][0]
    x_q = twin.quantize_input(x)
    assert x_q.dtype == np.int16 and x_q.shape == (10, 3)
    y = twin.run(x_q)
    assert y.dtype == np.int32 and y.shape == (10, 2)
    assert (twin.run(x_q[None])[0] == y).all()                     # batched run = single run
    state = twin.initial_state()
    for t in range(3):
        state, y_t = twin.step(state, x_q[t])
        assert (y_t == y[t]).all()
    assert np.allclose(twin.dequantize_output(y), y / 2**14)
    assert len(twin.model_hash) == 16 and int(twin.model_hash, 16) >= 0
    assert twin.quantize_input(np.full((1, 3), 1e9)).max() == 32767


def test_quantize_input_absorbs_the_normalisation(tmp_path):
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=5)
    twin = TwinModel.from_artifact_dir(art)
    manifest = json.loads((art / "model.json").read_text())
    x = np.array([[manifest["norm"]["mean"][0] + manifest["norm"]["std"][0], manifest["norm"]["mean"][1]]])
    assert twin.quantize_input(x).tolist() == [[2 ** twin.params.input_frac_bits, 0]]


def test_unsupported_models_are_refused_with_what_is_supported(tmp_path):
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=5)
    manifest, weights = load_artifact(art)
    for change, expected in [({"cell": "simple_rnn"}, "cell"), ({"bidirectional": True}, "bidirectional"),
                             ({"activation": "relu"}, "activation"), ({"layers": 7}, "layers"),
                             ({"units": 5}, "shape"), ({"task": "ranking"}, "task")]:
        with pytest.raises(UnsupportedModel, match=expected) as info:
            quantize_model({**manifest, **change}, weights)
        assert "supported: GRU" in str(info.value)
    with pytest.raises(UnsupportedModel, match="no head_kernel"):
        quantize_model(manifest, {k: v for k, v in weights.items() if k != "head_kernel"})
    huge = dict(weights, layer0_recurrent=weights["layer0_recurrent"] * 1000)
    with pytest.raises(UnsupportedModel, match="recurrent weights too large"):
        quantize_model(manifest, huge)


def test_large_input_weights_raise_the_input_format(tmp_path):
    art = make_artifact(tmp_path / "m", d=2, units=4, k=2, n=2, steps=5)
    manifest, weights = load_artifact(art)
    assert quantize_artifact(art).input_frac_bits == 11
    assert quantize_model(manifest, dict(weights, layer0_kernel=weights["layer0_kernel"] * 0 + 10.0)) \
        .input_frac_bits == 12
    assert quantize_model(manifest, dict(weights, layer0_kernel=weights["layer0_kernel"] * 0 + 20.0)) \
        .input_frac_bits == 13
    with pytest.raises(UnsupportedModel, match="input weights too large"):
        quantize_model(manifest, dict(weights, layer0_kernel=weights["layer0_kernel"] * 0 + 40.0))


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("cell,reset_after", [("gru", True), ("gru", False), ("lstm", True)])
def test_float_reference_matches_keras(tmp_path, cell, reset_after):
    keras = pytest.importorskip("keras")
    art = make_artifact(tmp_path / "m", cell=cell, reset_after=reset_after, d=3, units=8, k=3, layers=2,
                        n=4, steps=12)
    manifest, weights = load_artifact(art)
    x = normalise(manifest, np.load(art / "test_split.npz")["x"]).astype(np.float32)
    inputs = keras.Input((None, 3))
    v = inputs
    for l in range(2):
        layer = (keras.layers.LSTM(8, return_sequences=True) if cell == "lstm"
                 else keras.layers.GRU(8, return_sequences=True, reset_after=reset_after))
        v = layer(v)
        layer.set_weights([weights[f"layer{l}_kernel"], weights[f"layer{l}_recurrent"], weights[f"layer{l}_bias"]])
    head = keras.layers.Dense(3, activation="softmax")
    out = head(v)
    head.set_weights([weights["head_kernel"], weights["head_bias"]])
    expected = keras.Model(inputs, out).predict(x, verbose=0)
    assert np.abs(run_float(manifest, weights, x) - expected).max() < 1e-5
