"""Size report for a linked firmware, checked against the board's flash and RAM.

The firmware Makefile runs this on an ELF linked with room to spare (`link_unbounded.ld`), so that a model
that does not fit can still be measured: the refusal then says how much it needs and how much the board has.

    tinyrnn boards fit qemu-microbit build/fw/.../app.measure.elf --label basic_motions-gru32
"""

import shutil
import subprocess

from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.quantize.toolchain.build import symbols

NM = "arm-none-eabi-nm"
SIZE = "arm-none-eabi-size"


class DoesNotFit(TinyRNNError):
    """The linked image needs more flash or RAM than the board has."""


def _sections(elf):
    out = subprocess.run([SIZE, "-A", str(elf)], check=True, capture_output=True, text=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("."):
            sections[parts[0]] = int(parts[1])
    return sections


def measure(elf):
    """Flash and RAM the image uses (from the linker script's __flash_used/__ram_used), and a breakdown."""
    if shutil.which(NM) is None:
        raise FileNotFoundError(f"{NM} not found: install gcc-arm-none-eabi")
    syms = symbols(elf)
    sec = _sections(elf)
    return {
        "flash_bytes": syms["__flash_used"],
        "ram_bytes": syms["__ram_used"],
        "text_bytes": sec.get(".text", 0) + sec.get(".ARM.exidx", 0),
        "data_bytes": sec.get(".data", 0),
        "bss_bytes": sec.get(".bss", 0),
        "stack_bytes": sec.get(".stack", 0),
    }


def check(board, model_name, sizes):
    """Raise DoesNotFit with a one-line explanation if the image exceeds the board."""
    problems = []
    for what, need, have in (("flash", sizes["flash_bytes"], board.flash_size),
                             ("RAM", sizes["ram_bytes"], board.ram_size)):
        if need > have:
            problems.append(f"{what} {need:,} B needed, board has {have:,} B ({need - have:,} B over)")
    if problems:
        raise DoesNotFit(f"model {model_name} does not fit {board.name}: " + "; ".join(problems)
                         + f" (RAM includes a {board.stack_size:,} B stack)")


def report_line(board, model_name, sizes):
    return (f"{board.name} / {model_name}: firmware flash {sizes['flash_bytes']:,} of {board.flash_size:,} B "
            f"({100 * sizes['flash_bytes'] / board.flash_size:.1f}%), RAM {sizes['ram_bytes']:,} of "
            f"{board.ram_size:,} B ({100 * sizes['ram_bytes'] / board.ram_size:.1f}%; "
            f".data {sizes['data_bytes']:,} + .bss {sizes['bss_bytes']:,} + stack {sizes['stack_bytes']:,})")
