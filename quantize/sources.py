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


KERNEL_SOURCE_PATTERNS = ("*.c", "*/*.c", "*/*.S")


def kernel_sources() -> list[Path]:
    """Every kernel translation unit, for every target: the portable reference (firmware/kernels/*.c) and each
    optimized path's folder (firmware/kernels/<path>/*.c and *.S). Units of a path that does not apply to a
    target compile (or assemble) to nothing there, so one list serves every build; firmware/kernels/kernels.mk
    says the same for the Makefiles (a test checks that they agree)."""
    return sorted(p for pattern in KERNEL_SOURCE_PATTERNS for p in KERNELS_DIR.glob(pattern))


def kernel_headers() -> list[Path]:
    """Every kernel header: the reference's (firmware/kernels/*.h) and each optimized path's (<path>/*.h)."""
    return sorted(p for pattern in ("*.h", "*/*.h") for p in KERNELS_DIR.glob(pattern))
