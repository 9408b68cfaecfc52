"""Helpers shared by the kernel tests and the benchmark: build a synthetic model, generate its C, and
produce the input sets the bit-exact tests use (random, real-ish, adversarial)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.twin.params import KernelParams
from tinyrnn.quantize.twin.quantizer import quantize_artifact
from tinyrnn.quantize.reference.synthetic import make_artifact, random_inputs
from tinyrnn.quantize.twin.cells import TwinModel


def make_model(workdir: Path, name: str, **kwargs) -> tuple[Path, TwinModel]:
    """Synthetic artifact + generated C in workdir/name; returns (artifact dir, twin)."""
    art = make_artifact(workdir / name, **kwargs)
    params = quantize_artifact(art)
    codegen.write_model(params, art / "c", f"synthetic {name}")
    return art, TwinModel(params)


def extreme_params(params: KernelParams, seed: int = 0) -> KernelParams:
    """Same shapes, adversarial integers: full-scale +-127 weight rows, maximum multipliers, large biases."""
    rng = np.random.default_rng(seed)
    for _, dense in params.dense_items():
        for w, m in ((dense.weights_a, dense.mult_a), (dense.weights_b, dense.mult_b)):
            if w.size:
                w[:] = rng.choice([-127, 127], size=w.shape).astype(np.int8)
                w[::3] = rng.integers(-127, 128, size=w[::3].shape)
                m[:] = rng.integers(1, 2**31 - 1, size=m.shape) >> rng.integers(0, 12, size=m.shape)
        dense.bias[:] = rng.integers(-2**58, 2**58, size=dense.bias.shape) + 2**31
    return params


def input_sets(twin: TwinModel, seed: int = 0, n: int = 24, steps: int = 50, long_steps: int = 1500) -> list:
    """[(name, x_q int16 (n, T, d))]: real-ish random walks, uniform int16, saturating +-32767, one long one."""
    rng = np.random.default_rng(seed)
    d = twin.params.input_dim
    realish = twin.quantize_input(random_inputs(rng, n, steps, d))
    uniform = rng.integers(-32768, 32768, size=(n // 2, steps, d)).astype(np.int16)
    saturating = rng.choice(np.array([-32768, 32767], dtype=np.int16), size=(n // 4, steps, d))
    long_one = twin.quantize_input(random_inputs(rng, 1, long_steps, d))
    return [("realish", realish), ("uniform", uniform), ("saturating", saturating), ("long", long_one)]


def twin_states(twin: TwinModel, x_q) -> tuple[np.ndarray, np.ndarray]:
    """Twin outputs and packed C-layout states after every step: (y (n, T, k), state (n, T, words))."""
    n, steps = x_q.shape[:2]
    state = twin.initial_state((n,))
    ys, states = [], []
    for t in range(steps):
        state, y = twin.step(state, x_q[:, t])
        ys.append(y)
        states.append(np.stack([twin.pack_state([tuple(a[i] for a in s) for s in state]) for i in range(n)]))
    return np.stack(ys, axis=1), np.stack(states, axis=1)
