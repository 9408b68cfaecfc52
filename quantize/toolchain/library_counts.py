"""Instructions per `tinyrnn_step` of an exported model on Cortex-M0 and M4, counted in unicorn: the figures
`tinyrnn export --lib` writes into the C library's README (with rv32imc, counted on the emulated RISC-V board by
host/device/library_counts.py).

The same kernel sources and model data as the library, -O2, run over up to 16 steps of the test split's first
sequence (zeros without a test split); the outputs must equal the twin's, so a count is always of a correct run.
Executed instructions, not cycles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, Artifact
from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.twin.cells import TwinModel

CORTEX_M_CORES = ("m0", "m4")       # the README's Cortex-M rows: the plain-C path and the DSP path
COUNTED_STEPS = 16


def counted_input(model_dir: Path, twin: TwinModel) -> np.ndarray:
    """The quantized steps every core is counted over: the test split's first sequence, else zeros."""
    artifact = Artifact.open(model_dir)
    if artifact.has(TEST_SPLIT_NAME):
        return twin.quantize_input(artifact.test_split().x[0][:COUNTED_STEPS])
    return np.zeros((COUNTED_STEPS, twin.params.input_dim), np.int16)


def count_on_cortex_m(model_dir: Path, twin: TwinModel, x_q, work: Path) -> dict[str, int]:
    """{core: instructions per step} for m0 and m4 in unicorn; {} without arm-none-eabi-gcc or unicorn."""
    try:
        from tinyrnn.quantize.toolchain.emulate import EmulatedModel
    except ImportError:             # unicorn, the bench extra, is not installed
        return {}
    if not build.arm_toolchain_available():
        return {}
    counts = {}
    for core in CORTEX_M_CORES:
        emu = EmulatedModel(Path(model_dir) / "c", twin.params, core, Path(work) / core)
        emu.reset()
        y, n = emu.run(x_q, count=True)
        if not (y == twin.run(x_q)).all():
            raise TinyRNNError(f"the {core} build of {model_dir} differs from the twin", "report this as a bug")
        counts[core] = round(n / len(x_q))
    return counts
