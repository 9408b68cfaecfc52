"""Instructions per `tinyrnn_step` for the C library's README (`tinyrnn export --lib`): Cortex-M0/M4 in unicorn
(quantize/toolchain/library_counts.py) and rv32imc on the emulated RISC-V board, whose firmware reads minstret
around every step under QEMU -icount. A core whose tools are missing is left out. Instructions, not cycles.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from tinyrnn.host.device.targets import load_target
from tinyrnn.host.link.client import connect
from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.quantize.toolchain.library_counts import count_on_cortex_m, counted_input
from tinyrnn.quantize.twin.cells import TwinModel

RISCV_BOARD = "qemu-riscv32-virt"     # the emulated RISC-V board whose minstret counts the README's RV32 figure


def count_on_riscv(model_dir: Path, twin: TwinModel, x_q, work: Path) -> int | None:
    """Instructions per tinyrnn_step on rv32imc: the kit's firmware for qemu-riscv32-virt (the same kernel
    sources and model data, -O2) under QEMU -icount, its minstret read around every step over the serial
    line. None without the RISC-V toolchain or QEMU."""
    target = load_target(RISCV_BOARD)
    board = target.board
    if shutil.which(board.cross + "gcc") is None or shutil.which(board.qemu_binary) is None:
        return None
    run_dir = Path(work) / "run"
    running = target.start(model_dir, target.build(model_dir), run_dir=run_dir)
    try:
        client = connect(running.port, expected_hash=twin.model_hash)
        try:
            result = client.sequence(x_q, per_step=True, reset=True)
        finally:
            client.transport.close()
    finally:
        target.stop(run_dir=run_dir)
    if not (result.outputs == twin.run(x_q)).all():
        raise TinyRNNError(f"the {RISCV_BOARD} build of {model_dir} differs from the twin", "report this as a bug")
    return round(float(client.info.ticks_to_count(result.step_ticks).mean()))


def uncounted(counts: dict) -> list[str]:
    """Why each core the README could show has no instructions-per-step row (what to install for it)."""
    reasons = []
    if not {"m0", "m4"} <= set(counts):
        if importlib.util.find_spec("unicorn") is None:
            reasons.append("Cortex-M0/M4: not counted, the unicorn emulator is not installed "
                           "(pip install 'tinyrnn[bench]')")
        elif shutil.which("arm-none-eabi-gcc") is None:
            reasons.append("Cortex-M0/M4: not counted, arm-none-eabi-gcc is not installed (make toolchain)")
    if "rv32imc" not in counts:
        board = load_target(RISCV_BOARD).board
        if shutil.which(board.cross + "gcc") is None or shutil.which(board.qemu_binary) is None:
            reasons.append(f"rv32imc: not counted, {board.cross}gcc or {board.qemu_binary} is not installed "
                           "(make toolchain)")
    return reasons


def count_library_instructions(model_dir: Path, work: Path) -> dict[str, int]:
    """{core: instructions per tinyrnn_step} for every core whose tools are here (m0, m4, rv32imc)."""
    model_dir = Path(model_dir)
    twin = TwinModel.from_artifact_dir(model_dir)
    x_q = counted_input(model_dir, twin)
    counts = count_on_cortex_m(model_dir, twin, x_q, work)
    rv32 = count_on_riscv(model_dir, twin, x_q, work)
    if rv32 is not None:
        counts["rv32imc"] = rv32
    return counts
