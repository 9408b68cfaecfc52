"""The search space of `tinyrnn search`, the trials drawn from it, and the parameter-count formulas.

A trial is one point: cell kind, hidden units, stacked layers, learning rate, epochs. The list of trials is
drawn up front from one seeded generator, so the same seed and options give the same trials in the same order
(whatever the engine does with them afterwards). Cells are drawn in turn, so every cell kind gets its share of
the trials and the GRU-vs-LSTM comparison has something on each side.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.twin.params import MAX_DIM, MAX_LAYERS

# Cell kinds: name -> (Keras cell, GRU reset_after). "gru" is Keras' default GRU (reset gate after the
# recurrent matmul, two bias vectors); "gru-v1" applies it before (one bias vector, the original 2014 GRU).
CELLS = {"gru": ("gru", True), "gru-v1": ("gru", False), "lstm": ("lstm", False)}
DEFAULT_UNITS = (8, 12, 16, 24, 32, 48, 64)
DEFAULT_LAYERS = (1, 2, 3)
DEFAULT_LR = (0.003, 0.03)            # log-uniform range
LR_DECIMALS = 5


@dataclass(frozen=True)
class Trial:
    """One point of the space; `index` is its place in the drawn list (trial 0, 1, ...)."""

    index: int
    cell: str          # a key of CELLS
    units: int
    layers: int
    lr: float
    epochs: int

    @property
    def name(self) -> str:
        return f"{self.index:03d}-{self.cell}{self.units}x{self.layers}"

    def as_dict(self) -> dict:
        return asdict(self)


def gates(cell: str) -> int:
    return 4 if CELLS[cell][0] == "lstm" else 3


def param_count(cell: str, input_dim: int, units: int, layers: int, outputs: int) -> int:
    """Trainable parameters, from the formulas: per layer of input size d and h units,
    LSTM 4(dh + h^2 + h); GRU with reset_after=False 3(dh + h^2 + h); Keras' default GRU (reset_after=True)
    keeps a second bias vector, 3(dh + h^2 + 2h). Layers after the first take d = h. Plus the dense head hk + k."""
    kind, reset_after = CELLS[cell]
    bias = 2 if (kind == "gru" and reset_after) else 1
    total = 0
    for layer in range(layers):
        d = input_dim if layer == 0 else units
        total += gates(cell) * (d * units + units * units + bias * units)
    return total + units * outputs + outputs


def draw_trials(n: int, seed: int, cells, units, layers, epochs, lr_range=DEFAULT_LR) -> list[Trial]:
    """n trials from the space, deterministic in (n, seed, space): cells in turn, the rest drawn at random."""
    rng = np.random.default_rng(seed)
    lo, hi = np.log(lr_range[0]), np.log(lr_range[1])
    out = []
    for i in range(n):
        out.append(Trial(index=i, cell=cells[i % len(cells)], units=int(rng.choice(units)),
                         layers=int(rng.choice(layers)),
                         lr=round(float(np.exp(rng.uniform(lo, hi))), LR_DECIMALS),
                         epochs=int(rng.choice(epochs))))
    return out


def parse_list(text: str, kind, flag: str, allowed=None, low=None, high=None) -> list:
    """'8,16,32' -> [8, 16, 32], checked; a UserError naming the flag otherwise."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise UserError(f"{flag} is empty", f"give a comma-separated list, e.g. {flag} 8,16")
    out = []
    for item in items:
        try:
            value = kind(item)
        except ValueError:
            raise UserError(f"{flag}: {item!r} is not a {kind.__name__}", "give a comma-separated list") from None
        if allowed is not None and value not in allowed:
            raise UserError(f"{flag}: unknown {item!r}", f"use some of: {', '.join(allowed)}")
        if low is not None and not low <= value <= high:
            raise UserError(f"{flag}: {item} is out of range", f"use values from {low} to {high}")
        out.append(value)
    return list(dict.fromkeys(out))


def parse_space(cells: str, units: str, layers: str, epochs: str) -> dict:
    return {"cells": parse_list(cells, str, "--cells", allowed=list(CELLS)),
            "units": parse_list(units, int, "--units", low=1, high=MAX_DIM),
            "layers": parse_list(layers, int, "--layers", low=1, high=MAX_LAYERS),
            "epochs": parse_list(epochs, int, "--epochs", low=1, high=10_000)}
