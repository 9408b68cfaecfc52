"""Synthetic artifact directories (model.json, weights.npz, test_split.npz) for tests and the benchmark.

Weights are random with the magnitudes trained recurrent models have (Glorot-uniform input weights,
orthogonal-like recurrent weights scaled ~1, small biases, LSTM forget bias 1); inputs are smooth
random walks plus noise, so the state moves the way it does on sensor data. `float_outputs` come from
`quantize.float_ref`, exactly as train.py would write them from the float step model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.reference.float_ref import normalise, run_float


def random_weights(rng, cell: str, reset_after: bool, d: int, h: int, k: int, layers: int,
                   scale: float = 1.0) -> dict:
    gates = 4 if cell == "lstm" else 3
    weights = {}
    for l in range(layers):
        fan_in = d if l == 0 else h
        limit = np.sqrt(6.0 / (fan_in + gates * h))
        weights[f"layer{l}_kernel"] = rng.uniform(-limit, limit, (fan_in, gates * h)) * 2.0 * scale
        q, _ = np.linalg.qr(rng.normal(size=(gates * h, gates * h)))
        weights[f"layer{l}_recurrent"] = q[:h, :] * np.sqrt(gates) * 1.2 * scale
        if cell == "lstm":
            b = rng.normal(0, 0.1, 4 * h)
            b[h:2 * h] += 1.0
        elif reset_after:
            b = rng.normal(0, 0.1, (2, 3 * h))
        else:
            b = rng.normal(0, 0.1, 3 * h)
        weights[f"layer{l}_bias"] = b
    weights["head_kernel"] = rng.normal(0, 1.5 / np.sqrt(h), (h, k)) * scale
    weights["head_bias"] = rng.normal(0, 0.1, k)
    return {key: value.astype(np.float32) for key, value in weights.items()}


def random_inputs(rng, n: int, steps: int, d: int) -> np.ndarray:
    walk = np.cumsum(rng.normal(0, 0.3, (n, steps, d)), axis=1)
    wave = np.sin(np.arange(steps)[None, :, None] * rng.uniform(0.05, 0.5, (n, 1, d)))
    return (walk * 0.5 + wave * 2.0 + rng.normal(0, 0.2, (n, steps, d))) * 3.0 + 1.5


def make_artifact(path, cell: str = "gru", reset_after: bool = True, d: int = 6, units: int = 16, k: int = 4,
                  layers: int = 1, task: str = "classification", seed: int = 0, n: int = 16, steps: int = 40,
                  weight_scale: float = 1.0) -> Path:
    """Write a synthetic artifact directory and return its path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, cell, reset_after, d, units, k, layers, weight_scale)
    x = random_inputs(rng, n, steps, d).astype(np.float32)
    mean = x.reshape(-1, d).mean(axis=0)
    std = x.reshape(-1, d).std(axis=0)
    lengths = rng.integers(max(1, steps // 2), steps + 1, n).astype(np.int32)
    lengths[0] = steps
    for i, length in enumerate(lengths):
        x[i, length:] = 0
    manifest = {"format": 1, "dataset": "synthetic", "task": task, "input_dim": d, "output_dim": k,
                "cell": cell, "units": units, "layers": layers, "reset_after": reset_after,
                "norm": {"mean": mean.tolist(), "std": std.tolist()}, "seed": seed, "max_len": steps}
    if task == "classification":
        manifest["classes"] = [f"class{i}" for i in range(k)]
    else:
        manifest["target_norm"] = {"mean": [0.0] * k, "std": [1.0] * k}
    outputs = run_float(manifest, weights, normalise(manifest, x))
    for i, length in enumerate(lengths):
        outputs[i, length:] = 0
    last = outputs[np.arange(n), lengths - 1]
    y = last.argmax(axis=-1).astype(np.int64) if task == "classification" else last.astype(np.float32)
    artifact = Artifact.create(path, manifest)
    artifact.write_weights(weights)
    artifact.write_test_split(x=x, lengths=lengths, y=y, float_outputs=outputs.astype(np.float32))
    return path
