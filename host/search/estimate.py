"""Before a trial trains: its cost on the board, from the same measurement the trained model gets.

The kernel's instructions per step, flash and RAM depend on the model's shape (cell, d, h, layers, k), not on
what it learned. So a stand-in of the trial's exact shape with random weights (the bench's synthetic model,
quantize/toolchain/cases.py) is exported and counted the way the trained one will be (trial.measure_on_core:
built for the board's core, run in unicorn, checked against the twin). One source: the bench's measurement of
that shape, not a per-MAC figure from a table. A trial whose stand-in is over the budget by more than
`LATENCY_MARGIN` (instructions: the activation tables' branches make the count depend a little on the values)
or at all (flash and RAM: fixed by the shape) is ruled out and never trained.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from tinyrnn.host.search.space import CELLS, Trial
from tinyrnn.host.search.trial import Budget, judge, measure_on_core, model_flash

# A trained model's count was within this share of a random stand-in's on every core measured
# (GRU d=6 h=32 on the M0: see tests/test_search.py); the margin keeps trials near the limit in the search.
LATENCY_MARGIN = 0.05


def estimate(trial: Trial, input_dim: int, output_dim: int, budget: Budget) -> dict:
    """The stand-in's figures: instructions_per_step, latency_us, flash_bytes, ram_bytes, macs_per_step."""
    from tinyrnn.quantize.toolchain.cases import make_model
    from tinyrnn.quantize.twin.cells import scratch_words, state_words

    kind, reset_after = CELLS[trial.cell]
    with tempfile.TemporaryDirectory(prefix="tinyrnn-estimate-") as tmp:
        art, twin = make_model(Path(tmp), "standin", cell=kind, reset_after=reset_after, d=input_dim,
                               units=trial.units, k=output_dim, layers=trial.layers, seed=0)
        measured = measure_on_core(art, budget)
    instructions = measured["instructions_per_step"]
    return {"instructions_per_step": instructions, "latency_us": round(instructions / budget.clock_hz * 1e6, 1),
            "flash_bytes": model_flash(measured), "ram_bytes": 4 * (state_words(twin.params)
                                                                   + scratch_words(twin.params))}


def rule_out(trials: list[Trial], input_dim: int, output_dim: int, budget: Budget, quiet: bool = False) -> dict:
    """{trial index: {"estimate": figures, "because": reasons}} for the trials that cannot fit; one stand-in per
    shape (cell, units, layers), counted once."""
    from tqdm.auto import tqdm

    by_shape: dict = {}
    out = {}
    for t in tqdm(trials, desc="estimating", unit="trial", disable=quiet, leave=False):
        shape = (t.cell, t.units, t.layers)
        if shape not in by_shape:
            by_shape[shape] = estimate(t, input_dim, output_dim, budget)
        why = ruled_out(by_shape[shape], budget)
        if why:
            out[t.index] = {"estimate": by_shape[shape], "because": why}
    return out


def ruled_out(figures: dict, budget: Budget) -> list[str]:
    """Why a trial cannot fit, judged on its stand-in ([] = train it); latency only past the margin."""
    lenient = Budget(budget.board, budget.core, budget.clock_hz,
                     None if budget.max_latency_us is None else budget.max_latency_us * (1 + LATENCY_MARGIN),
                     budget.max_flash, budget.max_ram)
    return judge(figures, lenient)
