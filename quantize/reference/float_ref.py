"""Float reference of the models the kernel supports, in plain numpy (float64), from weights.npz alone.

Keras semantics (GRU reset_after True/False, LSTM; Keras gate orders; sigmoid/tanh), stacked layers,
softmax or linear head. Used to measure the fixed-point kernel's error without TensorFlow, and tested
once against Keras itself (tests/test_twin.py, marked slow).
"""
from __future__ import annotations

import numpy as np


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def gru_step(kernel, recurrent, bias, reset_after: bool, x, h):
    units = h.shape[-1]
    if reset_after:
        xw = x @ kernel + bias[0]
        hu = h @ recurrent + bias[1]
        z = _sigmoid(xw[..., :units] + hu[..., :units])
        r = _sigmoid(xw[..., units:2 * units] + hu[..., units:2 * units])
        n = np.tanh(xw[..., 2 * units:] + r * hu[..., 2 * units:])
    else:
        xw = x @ kernel + bias
        hu = h @ recurrent[:, :2 * units]
        z = _sigmoid(xw[..., :units] + hu[..., :units])
        r = _sigmoid(xw[..., units:2 * units] + hu[..., units:])
        n = np.tanh(xw[..., 2 * units:] + (r * h) @ recurrent[:, 2 * units:])
    return z * h + (1.0 - z) * n


def lstm_step(kernel, recurrent, bias, x, h, c):
    units = h.shape[-1]
    pre = x @ kernel + h @ recurrent + bias
    i = _sigmoid(pre[..., :units])
    f = _sigmoid(pre[..., units:2 * units])
    g = np.tanh(pre[..., 2 * units:3 * units])
    o = _sigmoid(pre[..., 3 * units:])
    c = f * c + i * g
    return o * np.tanh(c), c


def run_float(manifest: dict, weights: dict, x_norm: np.ndarray) -> np.ndarray:
    """Normalised inputs (..., T, d) -> head outputs after every step (..., T, k): probabilities or
    normalised regression values."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    x_norm = np.asarray(x_norm, dtype=np.float64)
    units, layers = int(manifest["units"]), int(manifest["layers"])
    lstm = manifest["cell"].lower() == "lstm"
    reset_after = bool(manifest.get("reset_after", True))
    batch, steps = x_norm.shape[:-2], x_norm.shape[-2]
    h = [np.zeros(batch + (units,)) for _ in range(layers)]
    c = [np.zeros(batch + (units,)) for _ in range(layers)]
    out = []
    for t in range(steps):
        v = x_norm[..., t, :]
        for l in range(layers):
            args = (w[f"layer{l}_kernel"], w[f"layer{l}_recurrent"], w[f"layer{l}_bias"])
            if lstm:
                h[l], c[l] = lstm_step(*args, v, h[l], c[l])
            else:
                h[l] = gru_step(*args, reset_after, v, h[l])
            v = h[l]
        logits = v @ w["head_kernel"] + w["head_bias"]
        if manifest["task"] == "classification":
            e = np.exp(logits - logits.max(axis=-1, keepdims=True))
            logits = e / e.sum(axis=-1, keepdims=True)
        out.append(logits)
    return np.stack(out, axis=-2)


def normalise(manifest: dict, x_raw: np.ndarray) -> np.ndarray:
    norm = manifest.get("norm") or {}
    d = int(manifest["input_dim"])
    mean = np.asarray(norm.get("mean", np.zeros(d)), dtype=np.float64)
    std = np.asarray(norm.get("std", np.ones(d)), dtype=np.float64)
    return (np.asarray(x_raw, dtype=np.float64) - mean) / np.where(std > 0, std, 1.0)
