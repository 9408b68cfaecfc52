"""tables.bin: the kernel's activation tables for the MicroPython port (firmware/micropython/tinyrnn_mp.py).

kernel.bin holds the model's parameters but not the activation tables, which are the same for every model.
MicroPython on a board may have single-precision floats, so the port does not recompute the tables with
floats (a value near a rounding boundary could come out 1 LSB off and the step would no longer be bit-exact
with the C kernels); it loads them from this file, written from `quantize/twin/fixedpoint.py`, the one source
of truth. Layout (docs/quantization.md, "MicroPython"), little-endian:

    0   4 bytes   magic b"TRNA"
    4   u8 x 4    file format (1), kernel spec version, number of tables (3), 0
    8   per table, in order sigmoid, tanh, exp:
          i32 lo (Q14 lower end), u8 segment bits, u8 entry type (ord 'h' int16, ord 'H' uint16), u16 entries;
          entries x 2 bytes; zero padding to a multiple of 4 bytes

    tinyrnn export --tables OUT     (OUT: a file such as x/tables.bin, or a directory: OUT/tables.bin)
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.params import KERNEL_SPEC_VERSION

TABLES_BIN_MAGIC = b"TRNA"
TABLES_BIN_FORMAT = 1

# (name, table, Q14 lower end, segment bits, array typecode of the entries)
TABLES = (("sigmoid", fp.SIGMOID_TABLE, fp.SIGMOID_LO, fp.SIGMOID_SEG_BITS, "h"),
          ("tanh", fp.TANH_TABLE, fp.TANH_LO, fp.TANH_SEG_BITS, "h"),
          ("exp", fp.EXP_TABLE, fp.EXP_LO, fp.EXP_SEG_BITS, "H"))   # exp holds 32768: unsigned


def tables_bytes() -> bytes:
    """The canonical tables.bin content."""
    out = bytearray(TABLES_BIN_MAGIC)
    out += struct.pack("<BBBB", TABLES_BIN_FORMAT, KERNEL_SPEC_VERSION, len(TABLES), 0)
    for name, table, lo, seg_bits, typecode in TABLES:
        values = np.asarray(table, dtype=np.int64)
        info = np.iinfo("<i2" if typecode == "h" else "<u2")
        if values.min() < info.min or values.max() > info.max:
            raise ValueError(f"{name} table does not fit typecode {typecode!r}")
        out += struct.pack("<iBBH", lo, seg_bits, ord(typecode), len(values))
        out += values.astype("<i2" if typecode == "h" else "<u2").tobytes()
        out += bytes(-len(out) % 4)
    return bytes(out)


def write_tables(out) -> Path:
    """Write tables.bin to `out` and return the file's path. `out` is a file if it has a suffix
    (`x/tables.bin`), else a directory, created if needed, that receives tables.bin."""
    path = Path(out)
    if path.is_dir() or not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
        path = path / "tables.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tables_bytes())
    return path
