"""The kernel's quantization rules: float weights (weights.npz + model.json) -> `KernelParams`.

Implements docs/quantization.md ("Requantisation", "GRU step", "LSTM step", "Head"): per-row symmetric int8
weights, Q31-style multipliers, the bias with the rounding constant folded in, and the choice of the input's
fractional bits. `params.py` holds what the result is; this module how it is computed.
"""
from __future__ import annotations

import numpy as np

from tinyrnn.quantize.artifact import Artifact, Manifest
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.params import (GATES_PER_CELL, MAX_ABS_BIAS, MAX_DIM, MAX_LAYERS, SUPPORTED, Dense,
                                          KernelParams, UnsupportedModel)


def quantize_rows(w_rows: np.ndarray):
    """Per-row symmetric int8: s_row = max|w_row| / 127, q = round(w / s). Returns (q int8, s float64)."""
    w = np.asarray(w_rows, dtype=np.float64)
    scale = np.abs(w).max(axis=1) / 127.0 if w.shape[1] else np.zeros(w.shape[0])
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.round(w / safe[:, None]), -127, 127).astype(np.int8)
    return q, scale


def snap_to_int8_grid(matrix: np.ndarray) -> np.ndarray:
    """A Keras-layout weight matrix (inputs, units) rounded to the values the kernel stores: per unit (column)
    symmetric int8, dequantized. quantize_rows gives back exactly the same int8 values for the result."""
    q, scale = quantize_rows(np.asarray(matrix, dtype=np.float64).T)
    return (q.astype(np.float64) * scale[:, None]).T


def multiplier(scale: np.ndarray, input_frac_bits: int) -> np.ndarray:
    """M = round(s * 2^(32 + 14 - fx)) (int64 array; the caller checks it fits an int32)."""
    return np.round(scale * 2.0 ** (fp.REQUANT_SHIFT + fp.PREACT_FRAC_BITS - input_frac_bits)).astype(np.int64)


def bias_q(b: np.ndarray) -> np.ndarray:
    """B = round(b * 2^(32 + 14)) + 2^31: the bias and the rounding constant of the >> 32."""
    b = np.asarray(b, dtype=np.float64)
    return np.round(b * 2.0 ** (fp.REQUANT_SHIFT + fp.PREACT_FRAC_BITS)).astype(np.int64) + (1 << 31)


def make_dense(w_a: np.ndarray, fx_a: int, bias: np.ndarray, w_b: np.ndarray | None = None,
               fx_b: int = fp.STATE_FRAC_BITS, what: str = "") -> Dense:
    """Quantize rows [w_a | w_b] (float, (rows, cols)) fed by inputs in Q(fx_a) and Q(fx_b)."""
    rows = w_a.shape[0]
    if w_b is None:
        w_b = np.zeros((rows, 0))
    qa, sa = quantize_rows(w_a)
    qb, sb = quantize_rows(w_b)
    ma, mb = multiplier(sa, fx_a), multiplier(sb, fx_b)
    for m, part in ((ma, "input"), (mb, "recurrent")):
        if m.size and m.max() > fp.INT32_MAX:
            raise UnsupportedModel(f"{what}: {part} weights too large for the int32 multiplier "
                                   f"(max |w| {np.abs(w_a if part == 'input' else w_b).max():.1f}); {SUPPORTED}")
    if np.abs(bias).max(initial=0) >= MAX_ABS_BIAS:
        raise UnsupportedModel(f"{what}: bias magnitude >= {MAX_ABS_BIAS:g}")
    return Dense(weights_a=qa, weights_b=qb, bias=bias_q(bias), mult_a=ma.astype(np.int32),
                 mult_b=mb.astype(np.int32))


def choose_input_frac_bits(layer0_kernel: np.ndarray) -> int:
    """xf = 11, or the smallest larger xf for which every layer-0 input multiplier fits an int32.

    M = s * 2^(46 - xf) < 2^31 means s < 2^(xf - 15): large input weights need *more* fractional bits
    (finer input integers, so a smaller multiplier), which narrows the input range to +-2^(15 - xf)
    standard deviations. xf stops at 13 (+-4 std); beyond that the model is refused.
    """
    _, scale = quantize_rows(np.asarray(layer0_kernel, dtype=np.float64).T)
    for xf in range(fp.DEFAULT_INPUT_FRAC_BITS, fp.MAX_INPUT_FRAC_BITS + 1):
        if multiplier(scale, xf).max(initial=0) <= fp.INT32_MAX:
            return xf
    raise UnsupportedModel(f"layer 0 input weights too large (max |w| {np.abs(layer0_kernel).max():.1f}, "
                           f"limit {127 * 2.0 ** (fp.MAX_INPUT_FRAC_BITS - 15):.1f}); {SUPPORTED}")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise UnsupportedModel(f"{message}; {SUPPORTED}")


def _whole_number(manifest, key: str) -> int:
    """A dimension from model.json: a missing or non-integer one is the file's fault, said as such."""
    value = manifest.get(key)
    _check(isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer(),
           f"model.json's {key} {value!r} is not a whole number")
    return int(value)


def quantize_model(manifest: dict, weights: dict) -> KernelParams:
    """Float model (model.json: a Manifest or its dict; weights.npz arrays) -> KernelParams.
    Raises UnsupportedModel."""
    cell = str(manifest.get("cell", "")).lower()
    _check(cell in GATES_PER_CELL, f"cell {manifest.get('cell')!r} is not supported")
    for key in ("bidirectional", "go_backwards", "stateful_bidirectional"):
        _check(not manifest.get(key), f"{key} layers are not supported")
    for key in ("activation", "recurrent_activation"):
        if key in manifest:
            want = "tanh" if key == "activation" else "sigmoid"
            _check(manifest[key] == want, f"{key} {manifest[key]!r} is not supported")
    task = manifest.get("task")
    _check(task in ("classification", "regression"), f"task {task!r} is not supported")
    d, h, k, n_layers = (_whole_number(manifest, key) for key in ("input_dim", "units", "output_dim", "layers"))
    _check(1 <= n_layers <= MAX_LAYERS, f"{n_layers} layers")
    _check(all(1 <= v <= MAX_DIM for v in (d, h, k)), f"dimensions d={d} units={h} outputs={k}")
    reset_after = bool(manifest.get("reset_after", True))
    cell_kind = "lstm" if cell == "lstm" else ("gru_reset_after" if reset_after else "gru_reset_before")
    gates = GATES_PER_CELL[cell]

    def weight(name, shape):
        _check(name in weights, f"weights.npz has no {name}")
        value = np.asarray(weights[name], dtype=np.float64)
        _check(value.shape == shape, f"{name} has shape {value.shape}, expected {shape}")
        _check(bool(np.isfinite(value).all()), f"{name} is not finite")
        return value

    norm = manifest.get("norm") or {}
    mean = np.asarray(norm.get("mean", np.zeros(d)), dtype=np.float32)
    std = np.asarray(norm.get("std", np.ones(d)), dtype=np.float32)
    _check(mean.shape == (d,) and std.shape == (d,), "norm mean/std must have input_dim entries")
    std = np.where(std > 0, std, 1).astype(np.float32)

    xf = choose_input_frac_bits(weight("layer0_kernel", (d, gates * h)))
    params = KernelParams(cell_kind=cell_kind, head_kind="softmax" if task == "classification" else "linear",
                          input_dim=d, units=h, output_dim=k, input_frac_bits=xf, norm_mean=mean, norm_std=std)
    for l in range(n_layers):
        fan_in = d if l == 0 else h
        fx = xf if l == 0 else fp.STATE_FRAC_BITS
        W = weight(f"layer{l}_kernel", (fan_in, gates * h)).T      # rows = gate units
        U = weight(f"layer{l}_recurrent", (h, gates * h)).T
        what = f"layer {l}"
        if cell_kind == "gru_reset_after":
            b = weight(f"layer{l}_bias", (2, 3 * h))
            b_in, b_rec = b[0], b[1]
            layer = {"gates": make_dense(W[:2 * h], fx, b_in[:2 * h] + b_rec[:2 * h], U[:2 * h], what=what),
                     "candidate": make_dense(W[2 * h:], fx, b_in[2 * h:], what=what),
                     "candidate_recurrent": make_dense(U[2 * h:], fp.STATE_FRAC_BITS, b_rec[2 * h:], what=what)}
        elif cell_kind == "gru_reset_before":
            b = weight(f"layer{l}_bias", (3 * h,))
            layer = {"gates": make_dense(W[:2 * h], fx, b[:2 * h], U[:2 * h], what=what),
                     "candidate": make_dense(W[2 * h:], fx, b[2 * h:], U[2 * h:], what=what)}
        else:
            b = weight(f"layer{l}_bias", (4 * h,))
            layer = {"gates": make_dense(W, fx, b, U, what=what)}
        params.layers.append(layer)
    params.head = make_dense(weight("head_kernel", (h, k)).T, fp.STATE_FRAC_BITS, weight("head_bias", (k,)),
                             what="head")
    return params


def load_artifact(path) -> tuple[Manifest, dict]:
    """(model.json, weights.npz arrays) of an artifact directory; its owner raises the one-line errors."""
    artifact = Artifact.open(path)
    return artifact.manifest, artifact.weights()


def quantize_artifact(path) -> KernelParams:
    manifest, weights = load_artifact(path)
    return quantize_model(manifest, weights)
