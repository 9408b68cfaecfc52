"""Where the kit's shipped files are: firmware sources, board data, the bench drivers.

In a clone these are the repository's top-level folders; in an installed wheel they are package data beside
this package (tinyrnn/firmware, tinyrnn/boards). Either way they sit next to `quantize/`, so one rule finds
them. Nothing is ever written here: runs write to the current directory or to --out.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = PACKAGE_ROOT / "firmware"
KERNELS_DIR = FIRMWARE_DIR / "kernels"
MICROPYTHON_DIR = FIRMWARE_DIR / "micropython"
BOARDS_DIR = PACKAGE_ROOT / "boards"
DRIVERS_DIR = Path(__file__).resolve().parent / "toolchain" / "drivers"


def kernel_sources() -> list[Path]:
    """Every kernel translation unit: firmware/kernels/*.c (the same rule as firmware/Makefile's wildcard).
    Units that do not apply to a target (the DSP or the Thumb-1 routine) compile to nothing there."""
    return sorted(KERNELS_DIR.glob("*.c"))
