"""The files a MicroPython board loads: tables.bin (the pure-Python kernel's activation tables) and kernel_c.bin
(a model laid out as the C kernels read it, for the native module: the natmod `.mpy` or the user C module).

tables.bin: the kernel's activation tables for the MicroPython port (firmware/micropython/tinyrnn_mp.py).

kernel.bin holds the model's parameters but not the activation tables, which are the same for every model.
MicroPython on a board may have single-precision floats, so the port does not recompute the tables with
floats (a value near a rounding boundary could come out 1 LSB off and the step would no longer be bit-exact
with the C kernels); it loads them from this file, written from `quantize/twin/fixedpoint.py`, the one source
of truth. Layout: quantize/twin/images.py (TABLES_BIN_*), explained in docs/quantization.md, "MicroPython".

    tinyrnn export --tables OUT     (OUT: a file such as x/tables.bin, or a directory: OUT/tables.bin)

kernel_c.bin: the same model as kernel.bin, its weights already in the layout the board's C kernels read (one of
emit/c_code.py LAYOUTS, by layout_weights / c_layout: quantize/targets.py Core.weight_layout), for
firmware/micropython/native/tinyrnn_native.c, which only checks it and points a tinyrnn_model_t into it (no copy,
no layout code in C). Layout: quantize/twin/images.py (C_IMAGE_*), which also generates the natmod's
firmware/micropython/native/image_layout.h and the constants of firmware/micropython/tinyrnn_model.py.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from tinyrnn.quantize.emit.c_code import C_LAYOUT, c_layout, layout_weights
from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.cells import scratch_words, state_words
from tinyrnn.quantize.twin.images import (C_IMAGE_ALIGN, C_IMAGE_FORMAT, C_IMAGE_HEADER, C_IMAGE_MAGIC,
                                          C_IMAGE_PRODUCT, C_IMAGE_SLOTS, KERNEL_SPEC_VERSION, TABLES_BIN_ALIGN,
                                          TABLES_BIN_FORMAT, TABLES_BIN_HEADER, TABLES_BIN_MAGIC, TABLES_BIN_TABLE)
from tinyrnn.quantize.twin.params import KernelParams

# (name, table, Q14 lower end, segment bits, array typecode of the entries)
TABLES = (("sigmoid", fp.SIGMOID_TABLE, fp.SIGMOID_LO, fp.SIGMOID_SEG_BITS, "h"),
          ("tanh", fp.TANH_TABLE, fp.TANH_LO, fp.TANH_SEG_BITS, "h"),
          ("exp", fp.EXP_TABLE, fp.EXP_LO, fp.EXP_SEG_BITS, "H"))   # exp holds 32768: unsigned


def tables_bytes() -> bytes:
    """The canonical tables.bin content."""
    out = bytearray(struct.pack(TABLES_BIN_HEADER.format, TABLES_BIN_MAGIC, TABLES_BIN_FORMAT, KERNEL_SPEC_VERSION,
                                len(TABLES), 0))
    for name, table, lo, seg_bits, typecode in TABLES:
        values = np.asarray(table, dtype=np.int64)
        info = np.iinfo("<i2" if typecode == "h" else "<u2")
        if values.min() < info.min or values.max() > info.max:
            raise ValueError(f"{name} table does not fit typecode {typecode!r}")
        out += struct.pack(TABLES_BIN_TABLE.format, lo, seg_bits, ord(typecode), len(values))
        out += values.astype("<i2" if typecode == "h" else "<u2").tobytes()
        out += bytes(-len(out) % TABLES_BIN_ALIGN)
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


# ---- kernel_c.bin ----------------------------------------------------------------------------------------

C_IMAGE_NAME = "kernel_c.bin"      # its layout: quantize/twin/images.py (C_IMAGE_*)


def c_image_bytes(params: KernelParams, layout: int = C_LAYOUT) -> bytes:
    """The canonical kernel_c.bin of a model in weight layout `layout` (see the module docstring)."""
    slots = []                                    # (rows, cols_a, cols_b, weights int16 or None, requant bytes)
    for layer in params.layers:
        stored = c_layout(params, layer)
        for name in C_IMAGE_SLOTS:
            if name not in layer:
                slots.append(None)
                continue
            rows, w_a, w_b = stored[name]
            slots.append(_c_image_product(layer[name], rows, w_a, w_b, layout))
    head = params.head
    slots.append(_c_image_product(head, head.rows, head.weights_a, head.weights_b, layout))
    header_size = C_IMAGE_HEADER.size + len(slots) * C_IMAGE_PRODUCT.size
    data = bytearray(bytes(-header_size % C_IMAGE_ALIGN))
    descriptors = bytearray()
    for slot in slots:
        if slot is None:
            descriptors += bytes(C_IMAGE_PRODUCT.size)
            continue
        rows, cols_a, cols_b, weights, requant = slot
        w_off = 0
        if weights is not None:
            w_off = header_size + len(data)
            data += weights + bytes(-len(weights) % C_IMAGE_ALIGN)
        q_off = header_size + len(data)
        data += requant
        descriptors += struct.pack(C_IMAGE_PRODUCT.format, rows, cols_a, cols_b, 0, w_off,
                                   0 if weights is None else len(weights), q_off, 0)
    total = header_size + len(data)
    header = struct.pack(C_IMAGE_HEADER.format, C_IMAGE_MAGIC, C_IMAGE_FORMAT, layout, params.cell_id,
                         params.head_id, params.num_layers, params.input_frac_bits, params.input_dim, params.units,
                         params.output_dim, state_words(params), scratch_words(params),
                         params.model_hash.encode("ascii"), total, len(slots), 0)
    return header + bytes(descriptors) + bytes(data)


def _c_image_product(dense, rows, w_a, w_b, layout):
    """(rows, cols_a, cols_b, weight bytes or None, requant bytes) of one product as the C kernels store it."""
    weights = None
    if w_b is not None:
        stored = layout_weights(layout, w_a, w_b)
        weights = stored.astype(stored.dtype.newbyteorder("<")).tobytes()
    requant = np.zeros(rows, dtype=[("bias", "<i8"), ("mult_a", "<i4"), ("mult_b", "<i4")])
    requant["bias"], requant["mult_a"], requant["mult_b"] = dense.bias, dense.mult_a, dense.mult_b
    return rows, w_a.shape[1], 0 if w_b is None else w_b.shape[1], weights, requant.tobytes()


def write_c_image(params: KernelParams, out, layout: int = C_LAYOUT) -> Path:
    """Write kernel_c.bin in weight layout `layout` to `out` (a file with a suffix, or a directory) and return
    its path."""
    path = Path(out)
    if path.is_dir() or not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
        path = path / C_IMAGE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(c_image_bytes(params, layout))
    return path


def input_fold_module(params: KernelParams, downsample: int = 1) -> str:
    """tinyrnn_input.py: the constants of the library's push_float pre-processing (quantize/twin/preprocess.py:
    float -> integer of 2^-FLOAT_FRAC_BITS units, `downsample` frames summed, one multiply-add-shift per channel),
    for firmware/micropython/tinyrnn_live.py's InputFold: a MicroPython board then computes the same kernel inputs
    from raw values as the exported C library and `tinyrnn predict` do."""
    pre = Preprocess(params, downsample)
    fold = pre.float_fold
    return (f'"""The pre-processing of model {params.model_hash} for tinyrnn_live.InputFold. GENERATED by tinyrnn '
            '(quantize/emit/micropython.py input_fold_module): do not edit."""\n'
            f"MODEL_HASH = {params.model_hash!r}\n"
            f"FLOAT_FRAC_BITS = {pre.float_bits}\n"
            f"DOWNSAMPLE = {downsample}\n"
            f"MULT = {tuple(int(v) for v in fold.mult)!r}\n"
            f"BIAS = {tuple(int(v) for v in fold.bias)!r}\n"
            f"SHIFT = {tuple(int(v) for v in fold.shift)!r}\n")
