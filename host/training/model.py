"""The models: the Keras sequence model we train, the step model we deploy, and a numpy twin of the step.

* sequence model: `(batch, time, channels) -> output after the last real step`, trained with Keras.
* step model: `(x_t, states...) -> (y_t, new states...)`, built from the same weights out of plain
  Dense/Add/Multiply/Activation layers. This explicit form converts cleanly to full-integer int8 TFLite
  (Keras' own GRU/LSTM layers do not), and it is what a microcontroller runs: one step per sensor frame.
* `numpy_step`: the same step in plain numpy from `weights.npz`, the framework-free reference used to
  compute the float outputs quickly (batched) and that the fixed-point kernel is checked against.

Gate order is Keras's: GRU (z, r, n), LSTM (i, f, c, o).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from tinyrnn.quantize.reference.metrics import final_outputs  # noqa: F401  (used here and as M.final_outputs)

# Padding value for variable-length training batches. Keras' Masking layer masks a time step whose channels
# all equal this value; normalised real data never gets near 1e9 (load checks it), while 0 would also mask
# real frames that happen to normalise to exactly zero.
MASK_VALUE = 1e9

GATES = {"gru": 3, "lstm": 4}


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int
    output_dim: int
    cell: str = "gru"  # "gru" or "lstm"
    units: int = 32
    layers: int = 1
    reset_after: bool = True  # GRU only
    task: str = "classification"  # or "regression"

    def state_names(self) -> list[str]:
        """Names of the step model's state inputs, in the order used everywhere: h0 (c0) h1 (c1) ..."""
        per_layer = ["h", "c"] if self.cell == "lstm" else ["h"]
        return [f"{kind}{layer}" for layer in range(self.layers) for kind in per_layer]

    def layer_input_size(self, layer: int) -> int:
        return self.input_dim if layer == 0 else self.units


@contextlib.contextmanager
def native_stderr_captured():
    """Send file descriptor 2 (where TensorFlow's C++ code logs) to a temp file; replay it only if the block
    raises. Yields a text stream on the real stderr, for progress bars that should still be seen."""
    sys.stderr.flush()
    saved = os.dup(2)
    console = os.fdopen(os.dup(saved), "w", buffering=1)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield console
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            console.close()
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_keras():
    """Import TensorFlow and Keras without the C++ start-up chatter (oneDNN notices, absl warnings)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_captured():
        import keras
        import tensorflow  # noqa: F401
    return keras


# --------------------------------------------------------------------------------------------
# Size figures


def expected_params(cfg: ModelConfig) -> int:
    """Trainable parameters by formula: per layer G*(d*h + h*h + h), plus h per gate for GRU reset_after."""
    h, total = cfg.units, 0
    for layer in range(cfg.layers):
        d = cfg.layer_input_size(layer)
        biases = 2 * h if (cfg.cell == "gru" and cfg.reset_after) else h
        total += GATES[cfg.cell] * (d * h + h * h + biases)
    return total + h * cfg.output_dim + cfg.output_dim


def macs_per_step(cfg: ModelConfig) -> int:
    """Multiply-accumulates of the matrix-vector products in one step (gates and head)."""
    h = cfg.units
    macs = sum(GATES[cfg.cell] * (cfg.layer_input_size(layer) * h + h * h) for layer in range(cfg.layers))
    return macs + h * cfg.output_dim


# --------------------------------------------------------------------------------------------
# Keras models


def build_sequence_model(cfg: ModelConfig, masked: bool):
    """The trainable model. `masked` adds a Masking layer for variable-length (padded) batches."""
    keras = import_keras()
    L = keras.layers
    x = keras.Input(shape=(None, cfg.input_dim), name="x")
    h = L.Masking(mask_value=MASK_VALUE, name="mask")(x) if masked else x
    for layer in range(cfg.layers):
        last = layer == cfg.layers - 1
        if cfg.cell == "gru":
            rnn = L.GRU(cfg.units, return_sequences=not last, reset_after=cfg.reset_after, name=f"rnn{layer}")
        else:
            rnn = L.LSTM(cfg.units, return_sequences=not last, name=f"rnn{layer}")
        h = rnn(h)
    activation = "softmax" if cfg.task == "classification" else "linear"
    y = L.Dense(cfg.output_dim, activation=activation, name="head")(h)
    return keras.Model(x, y, name="sequence_model")


def extract_weights(model, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The weights.npz layout of docs/artifacts.md from a trained sequence model."""
    weights = {}
    for layer in range(cfg.layers):
        kernel, recurrent, bias = model.get_layer(f"rnn{layer}").get_weights()
        weights[f"layer{layer}_kernel"] = kernel
        weights[f"layer{layer}_recurrent"] = recurrent
        weights[f"layer{layer}_bias"] = bias
    head_kernel, head_bias = model.get_layer("head").get_weights()
    weights["head_kernel"], weights["head_bias"] = head_kernel, head_bias
    return {k: np.asarray(v, np.float32) for k, v in weights.items()}


def _split_gates(a: np.ndarray, gates: int) -> list[np.ndarray]:
    return np.split(a, gates, axis=-1)


def build_step_model(cfg: ModelConfig, weights: dict[str, np.ndarray]):
    """Explicit one-step model `[x, h0, (c0), ...] -> [y, h0_next, (c0_next), ...]` from weights.npz arrays.

    One Dense per gate and operand (rather than one wide Dense split afterwards) so that each gate's
    pre-activation gets its own int8 scale after quantization.
    """
    keras = import_keras()
    L = keras.layers
    x = keras.Input(shape=(cfg.input_dim,), name="x")
    state_in = {name: keras.Input(shape=(cfg.units,), name=name) for name in cfg.state_names()}
    to_set = []  # (layer object, [kernel, bias?]) assigned after the graph is built

    def dense(inp, kernel, bias, name):
        layer = L.Dense(kernel.shape[1], use_bias=bias is not None, name=name)
        out = layer(inp)
        to_set.append((layer, [kernel] if bias is None else [kernel, bias]))
        return out

    def act(v, fn, name):
        return L.Activation(fn, name=name)(v)

    def gate_pre(l, inp, h, K, U, bx, bh, g, tag):
        """Gate g's pre-activation of layer l, W_g x + bx_g + U_g h (+ bh_g), named l<l>_<tag>_*."""
        return L.Add(name=f"l{l}_{tag}_pre")(
            [dense(inp, K[g], bx[g], f"l{l}_{tag}_x"), dense(h, U[g], bh[g], f"l{l}_{tag}_h")])

    outputs_state = []
    inp = x
    for l in range(cfg.layers):
        K = _split_gates(weights[f"layer{l}_kernel"], GATES[cfg.cell])
        U = _split_gates(weights[f"layer{l}_recurrent"], GATES[cfg.cell])
        b = weights[f"layer{l}_bias"]
        h = state_in[f"h{l}"]
        if cfg.cell == "gru":
            if cfg.reset_after:  # bias rows: input bias, recurrent bias
                bx, bh = _split_gates(b[0], 3), _split_gates(b[1], 3)
            else:
                bx, bh = _split_gates(b, 3), [None] * 3
            pre = functools.partial(gate_pre, l, inp, h, K, U, bx, bh)
            z = act(pre(0, "z"), "sigmoid", f"l{l}_z")
            r = act(pre(1, "r"), "sigmoid", f"l{l}_r")
            n_x = dense(inp, K[2], bx[2], f"l{l}_n_x")
            if cfg.reset_after:  # n = tanh(W x + bx + r * (U h + bh))
                n_h = L.Multiply(name=f"l{l}_n_reset")([r, dense(h, U[2], bh[2], f"l{l}_n_h")])
            else:  # n = tanh(W x + b + U (r * h))
                n_h = dense(L.Multiply(name=f"l{l}_n_reset")([r, h]), U[2], None, f"l{l}_n_h")
            n = act(L.Add(name=f"l{l}_n_pre")([n_x, n_h]), "tanh", f"l{l}_n")
            # h_next = z*h + (1-z)*n, written as n + z*(h - n) to avoid a constant "1 - z"
            h_next = L.Add(name=f"h{l}_next")(
                [n, L.Multiply(name=f"l{l}_zdiff")([z, L.Subtract(name=f"l{l}_diff")([h, n])])])
            outputs_state.append(h_next)
        else:
            c = state_in[f"c{l}"]
            bx = _split_gates(b, 4)
            pre = functools.partial(gate_pre, l, inp, h, K, U, bx, [None] * 4)
            i = act(pre(0, "i"), "sigmoid", f"l{l}_i")
            f = act(pre(1, "f"), "sigmoid", f"l{l}_f")
            g = act(pre(2, "g"), "tanh", f"l{l}_g")
            o = act(pre(3, "o"), "sigmoid", f"l{l}_o")
            c_next = L.Add(name=f"c{l}_next")(
                [L.Multiply(name=f"l{l}_fc")([f, c]), L.Multiply(name=f"l{l}_ig")([i, g])])
            h_next = L.Multiply(name=f"h{l}_next")([o, act(c_next, "tanh", f"l{l}_tanh_c")])
            outputs_state += [h_next, c_next]
        inp = h_next
    activation = "softmax" if cfg.task == "classification" else "linear"
    y = L.Dense(cfg.output_dim, activation=activation, name="y")(inp)
    model = keras.Model([x, *state_in.values()], [y, *outputs_state], name="step_model")
    for layer, values in to_set:
        layer.set_weights(values)
    model.get_layer("y").set_weights([weights["head_kernel"], weights["head_bias"]])
    return model


# --------------------------------------------------------------------------------------------
# numpy reference


def _softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def zero_states(cfg: ModelConfig, batch: int) -> list[np.ndarray]:
    return [np.zeros((batch, cfg.units), np.float32) for _ in cfg.state_names()]


def numpy_step(weights: dict, cfg: ModelConfig, x: np.ndarray, states: list[np.ndarray]):
    """One step for a batch: x (batch, input_dim) normalised, states in `cfg.state_names()` order.

    Returns (y, new_states); y is softmax probabilities or normalised regression outputs.
    """
    # The cell math is written once, in quantize/reference/float_ref.py (the fixed-point kernel's float reference).
    from tinyrnn.quantize.reference import float_ref

    new_states, inp, k = [], x, 0
    for l in range(cfg.layers):
        K, U, b = weights[f"layer{l}_kernel"], weights[f"layer{l}_recurrent"], weights[f"layer{l}_bias"]
        if cfg.cell == "gru":
            h = float_ref.gru_step(K, U, b, cfg.reset_after, inp, states[k])
            new_states.append(h)
            k += 1
        else:
            h, c = float_ref.lstm_step(K, U, b, inp, states[k], states[k + 1])
            new_states += [h, c]
            k += 2
        inp = h
    y = inp @ weights["head_kernel"] + weights["head_bias"]
    if cfg.task == "classification":
        y = _softmax(y)
    return y.astype(np.float32), [s.astype(np.float32) for s in new_states]


def run_numpy(weights: dict, cfg: ModelConfig, x: np.ndarray, lengths: np.ndarray, keep_states: bool = False):
    """Step a padded batch (n, T, d) of normalised inputs through every step, all sequences at once.

    Returns outputs (n, T, output_dim), zero past each length; with keep_states also the states fed *into*
    each step, a list (one per state) of (n, T, units) arrays — the calibration data for int8 conversion.
    """
    n, T, _ = x.shape
    states = zero_states(cfg, n)
    outputs = np.zeros((n, T, cfg.output_dim), np.float32)
    history = [np.zeros((n, T, cfg.units), np.float32) for _ in states] if keep_states else None
    for t in range(T):
        alive = (t < lengths)[:, None]
        if keep_states:
            for hist, s in zip(history, states):
                hist[:, t] = s
        y, new = numpy_step(weights, cfg, x[:, t], states)
        outputs[:, t] = np.where(alive, y, 0.0)
        states = [np.where(alive, s_new, s) for s_new, s in zip(new, states)]  # finished sequences stay put
    return (outputs, history) if keep_states else outputs
