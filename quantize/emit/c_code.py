"""C generation: the model's `c/model_data.{h,c}` and the kernel's `firmware/kernels/tr_tables.{h,c}`.

The output is deterministic (same parameters -> same text), readable (named arrays, one comment per
array) and compiles with -std=c99 -pedantic -Wall -Wextra -Werror on the host and every Cortex-M target.
Names are `tinyrnn_l<layer>_<product>_{weights,requant}` and `tinyrnn_head_{weights,requant}`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyrnn.quantize.sources import KERNELS_DIR
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.params import DENSE_NAMES, KernelParams
from tinyrnn.quantize.twin.cells import pad4, scratch_words, state_words

ROW_BLOCK = 4   # rows per block in the weight layout; TR_ROW_BLOCK in tr_matvec_s16_s8.c
# Version of the generated C's weight layout (TINYRNN_C_LAYOUT in model_data.h). Bump it, together with
# TINYRNN_KERNEL_C_LAYOUT in firmware/kernels/tinyrnn.h, whenever the arrays' layout or types change: the
# model hash covers kernel.bin, not this layout. 2: int8 row pairs as int16 halfwords (SMLALD).
C_LAYOUT = 2
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ALIGN_MACRO = """#if defined(__GNUC__) || defined(__clang__)
#define TINYRNN_ALIGN(n) __attribute__((aligned(n)))
#else
#define TINYRNN_ALIGN(n) /* alignment: the compiler's default; set it for your compiler if needed */
#endif"""


LAYOUT_CHECK = """#if !defined(TINYRNN_C_LAYOUT) || TINYRNN_C_LAYOUT != TINYRNN_KERNEL_C_LAYOUT
#error "model_data.c was generated for another kernel layout: re-run tinyrnn export <dir>"
#endif"""
LAYOUT_DEFINE = re.compile(r"^#define TINYRNN_C_LAYOUT (\d+)", re.MULTILINE)


def header_layout(text: str):
    """The TINYRNN_C_LAYOUT a generated model_data.h declares, or None (generated before it existed)."""
    match = LAYOUT_DEFINE.search(text)
    return int(match.group(1)) if match else None


def c_identifier(name: str) -> str:
    """`name` if it is a valid C identifier (no reserved prefix), else ValueError."""
    if not _IDENTIFIER.match(name) or name.startswith("__"):
        raise ValueError(f"not a valid C identifier: {name!r}")
    return name


def interleave_weights(w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """Row-major int8 weights [W_a | W_b] -> the flat layout of tr_matvec_s16_s8.c (see its header).

    Blocks of ROW_BLOCK rows (the last holds the remainder); inside a block, rows in pairs (A, B) (an odd last
    row pairs with a zero row); per input, per group of 4 columns, per pair: 4 int16 halfwords
    `256 * w_B[c] + w_A[c]` for c = c0..c3 (int16 array). |w| <= 127 keeps each halfword in int16.
    """
    rows = w_a.shape[0]
    if min(int(w_a.min(initial=0)), int(w_b.min(initial=0))) < -127:
        raise ValueError("weights must be in [-127, 127] for the row-pair layout")
    out = []
    for start in range(0, rows, ROW_BLOCK):
        n = min(ROW_BLOCK, rows - start)
        for w in (w_a, w_b):
            cols = w.shape[1]
            padded = np.zeros((n + n % 2, pad4(cols)), dtype=np.int32)   # zero row for an odd count
            padded[:n, :cols] = w[start:start + n]
            for g in range(0, pad4(cols), 4):
                for p in range(0, n, 2):
                    half = 256 * padded[p + 1, g:g + 4] + padded[p, g:g + 4]   # 256 w_B + w_A, c0..c3
                    out.append(half.astype(np.int16))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def _format_ints(values, per_line: int = 16, indent: str = "    ") -> str:
    values = [int(v) for v in values]
    lines = [indent + ", ".join(str(v) for v in values[i:i + per_line]) + ","
             for i in range(0, len(values), per_line)]
    return "\n".join(lines)


def c_array(ctype: str, name: str, values, comment: str, align: int = 4, per_line: int = 16) -> str:
    """`const` array definition with a one-line comment and alignment."""
    values = list(values)
    body = _format_ints(values, per_line) if values else "    0, /* empty: C forbids zero-length arrays */"
    return (f"/* {comment} */\n"
            f"const {ctype} {c_identifier(name)}[{max(len(values), 1)}] TINYRNN_ALIGN({align}) = {{\n{body}\n}};\n")


# ---- tr_tables.{h,c}: the kernel's constants and activation tables ---------------------------------

def _sat_bits(lo: int) -> int:
    """Width b with [lo, -lo - 1] = [-2^(b-1), 2^(b-1) - 1]: the table range of a symmetric table."""
    bits = (-lo).bit_length()
    assert -lo == 1 << (bits - 1), "symmetric tables must span a power of two"
    return bits


def tables_header() -> str:
    consts = [
        ("TR_STATE_FRAC_BITS", fp.STATE_FRAC_BITS, "h and gate outputs: Q15"),
        ("TR_PREACT_FRAC_BITS", fp.PREACT_FRAC_BITS, "pre-activations, LSTM cell, logits: Q14"),
        ("TR_PROB_FRAC_BITS", fp.PROB_FRAC_BITS, "softmax probabilities: Q15"),
        ("TR_REQUANT_SHIFT", fp.REQUANT_SHIFT, "requantisation: (B + acc * M) >> 32"),
        ("TR_TABLE_SEGMENTS", fp.TABLE_SEGMENTS, "linear segments per table (entries: + 1)"),
        ("TR_SIGMOID_LO", fp.SIGMOID_LO, f"sigmoid table starts at -{fp.SIGMOID_RANGE} (Q14)"),
        ("TR_SIGMOID_SEG_BITS", fp.SIGMOID_SEG_BITS, "Q14 input bits inside one sigmoid segment"),
        ("TR_TANH_LO", fp.TANH_LO, f"tanh table starts at -{fp.TANH_RANGE} (Q14)"),
        ("TR_TANH_SEG_BITS", fp.TANH_SEG_BITS, "Q14 input bits inside one tanh segment"),
        ("TR_SIGMOID_SAT_BITS", _sat_bits(fp.SIGMOID_LO), "clamping z to the sigmoid table = SSAT to this width"),
        ("TR_TANH_SAT_BITS", _sat_bits(fp.TANH_LO), "clamping z to the tanh table = SSAT to this width"),
        ("TR_EXP_LO", fp.EXP_LO, f"exp table covers [-{fp.EXP_RANGE}, 0] (Q14)"),
        ("TR_EXP_SEG_BITS", fp.EXP_SEG_BITS, "Q14 input bits inside one exp segment"),
        ("TR_EXP_ONE_Q15", fp.EXP_ONE_Q15, "exp(0) in unsigned Q15"),
    ]
    lines = ["/* GENERATED by quantize/emit/c_code.py from quantize/twin/fixedpoint.py: do not edit.",
             " * Regenerate: python -m tinyrnn.quantize.emit.c_code --tables */",
             "#ifndef TR_TABLES_H", "#define TR_TABLES_H", "", "#include <stdint.h>", ""]
    for name, value, comment in consts:
        value_text = f"({value})" if value < 0 else str(value)
        lines.append(f"#define {name} {value_text}  /* {comment} */")
    n = fp.TABLE_SEGMENTS + 1
    seg = fp.TABLE_SEGMENTS
    lines += ["", "/* sigmoid and tanh by segment: word i = (T[i+1] - T[i]) << 16 | (T[i] & 0xFFFF), the segment's "
              "start",
              " * value in the low halfword and its rise in the high one (one load per lookup; quantize/emit/c_code.py",
              " * segment_words). */",
              f"extern const int32_t tr_sigmoid_seg[{seg}];    /* Q15 sigmoid: start, rise per segment */",
              f"extern const int32_t tr_tanh_seg[{seg}];       /* Q15 tanh: start, rise per segment */",
              f"extern const uint16_t tr_exp_table[{n}];     /* unsigned Q15 exp at the segment ends */",
              "", "#endif /* TR_TABLES_H */", ""]
    return "\n".join(lines)


def segment_words(table) -> list:
    """A table of TABLE_SEGMENTS + 1 int16 values as one int32 word per segment: (T[i+1] - T[i]) << 16 | (T[i] &
    0xFFFF). The kernels read T[i] as the low halfword (sign-extended) and the rise as the high one (arithmetic
    shift), so a lookup is one load; the rise must fit int16."""
    words = []
    for start, end in zip(table[:-1], table[1:]):
        rise = int(end) - int(start)
        assert -32768 <= rise <= 32767 and -32768 <= int(start) <= 32767
        word = ((rise & 0xFFFF) << 16) | (int(start) & 0xFFFF)
        words.append(word - (1 << 32) if word >= 1 << 31 else word)
    return words


def tables_source() -> str:
    n = fp.TABLE_SEGMENTS + 1
    parts = ["/* GENERATED by quantize/emit/c_code.py from quantize/twin/fixedpoint.py: do not edit.",
             " * Regenerate: python -m tinyrnn.quantize.emit.c_code --tables",
             " * Activation tables (docs/quantization.md, \"Activations\"), in flash. */",
             '#include "tr_tables.h"', "", _ALIGN_MACRO, "",
             c_array("int32_t", "tr_sigmoid_seg", segment_words(fp.SIGMOID_TABLE),
                     f"sigmoid on [-{fp.SIGMOID_RANGE}, {fp.SIGMOID_RANGE}], {n - 1} segments: rise << 16 | start, Q15",
                     per_line=8),
             c_array("int32_t", "tr_tanh_seg", segment_words(fp.TANH_TABLE),
                     f"tanh on [-{fp.TANH_RANGE}, {fp.TANH_RANGE}], {n - 1} segments: rise << 16 | start, Q15",
                     per_line=8),
             c_array("uint16_t", "tr_exp_table", fp.EXP_TABLE,
                     f"exp on [-{fp.EXP_RANGE}, 0], {n} entries, unsigned Q15")]
    return "\n".join(parts)


def write_tables(directory: Path = KERNELS_DIR) -> None:
    (directory / "tr_tables.h").write_text(tables_header())
    (directory / "tr_tables.c").write_text(tables_source())


# ---- c/model_data.{h,c} ------------------------------------------------------------------------------

def model_header(params: KernelParams, source: str) -> str:
    p = params
    macros = [
        ("TINYRNN_MODEL_HASH", f'"{p.model_hash}"', "first 8 bytes of SHA-256 over kernel.bin"),
        ("TINYRNN_C_LAYOUT", C_LAYOUT, "weight layout of this C: TINYRNN_KERNEL_C_LAYOUT in tinyrnn.h"),
        ("TINYRNN_INPUT_DIM", p.input_dim, "int16 inputs per step"),
        ("TINYRNN_OUTPUT_DIM", p.output_dim, "int32 outputs per step"),
        ("TINYRNN_UNITS", p.units, "units per layer"),
        ("TINYRNN_LAYERS", p.num_layers, "stacked recurrent layers"),
        ("TINYRNN_CELL_ID", p.cell_id, f"{p.cell_kind}: enum tinyrnn_cell"),
        ("TINYRNN_HEAD_ID", p.head_id, f"{p.head_kind}: enum tinyrnn_head"),
        ("TINYRNN_STATE_WORDS", state_words(p), "int32 words of state the caller allocates"),
        ("TINYRNN_SCRATCH_WORDS", scratch_words(p), "int32 words of scratch the caller allocates"),
        ("TINYRNN_INPUT_FRAC_BITS", p.input_frac_bits, "inputs are Q(this) of the normalised input"),
    ]
    lines = ["/* GENERATED by quantize/emit/c_code.py: do not edit.",
             f" * Model: {source}", f" * Hash:  {p.model_hash}",
             " * Regenerate: tinyrnn export ARTIFACT_DIR */",
             "#ifndef TINYRNN_MODEL_DATA_H", "#define TINYRNN_MODEL_DATA_H", "", '#include "tinyrnn.h"', ""]
    for name, value, comment in macros:
        lines.append(f"#define {name} {value}  /* {comment} */")
    lines += ["", "extern const tinyrnn_model_t tinyrnn_model;", "", "#endif /* TINYRNN_MODEL_DATA_H */", ""]
    return "\n".join(lines)


def c_layout(params: KernelParams, layer: dict) -> dict:
    """name -> (rows, weights_a, weights_b or None) of each product as the C kernels store it.

    Every product is stored as its KernelParams Dense, except the GRU reset_after candidate pair: the
    `candidate` weights hold [W_n | U_n] (its mult_b is 0, so it still computes W_n x + b_in) and
    `candidate_recurrent` has no weights of its own, only the requantisation of U_n h + b_hn: one pass over
    the fused rows gives both sums (tr_matvec_gru_s16_s8).
    """
    out = {name: (dense.rows, dense.weights_a, dense.weights_b) for name, dense in layer.items()}
    if params.cell_kind == "gru_reset_after":
        cand, rec = layer["candidate"], layer["candidate_recurrent"]
        assert not cand.weights_b.shape[1] and not cand.mult_b.any()
        out["candidate"] = (cand.rows, cand.weights_a, rec.weights_a)
        out["candidate_recurrent"] = (rec.rows, rec.weights_a, None)
    return out


def _dense_arrays(prefix: str, dense, stored=None) -> tuple[str, str]:
    """(array definitions, tr_dense_t initializer) of one product; `stored` as from c_layout."""
    rows, w_a, w_b = stored if stored is not None else (dense.rows, dense.weights_a, dense.weights_b)
    name_w, name_q = f"tinyrnn_{prefix}_weights", f"tinyrnn_{prefix}_requant"
    cols_a = w_a.shape[1]
    if w_b is None:                                      # requantisation only (weights in another product)
        text, name_w, cols_b = "", "0", 0
    else:
        cols_b = w_b.shape[1]
        text = c_array("int16_t", name_w, interleave_weights(w_a, w_b),
                       f"{prefix}: {rows} rows x ({cols_a} + {cols_b}) columns, int8 row pairs as 256 w_B + w_A, "
                       "tr_matvec_s16_s8 layout")
    entries = "\n".join(f"    {{{int(b)}LL, {int(ma)}, {int(mb)}}},"
                        for b, ma, mb in zip(dense.bias, dense.mult_a, dense.mult_b))
    text += (f"/* {prefix}: per row {{bias Q46 + 2^31, input multiplier, recurrent multiplier}} */\n"
             f"static const tr_requant_t {c_identifier(name_q)}[{rows}] TINYRNN_ALIGN(8) = {{\n{entries}\n}};\n")
    init = f"{{{rows}, {cols_a}, {cols_b}, {name_w}, {name_q}}}"
    return text, init


def model_source(params: KernelParams, source: str) -> str:
    p = params
    parts = ["/* GENERATED by quantize/emit/c_code.py: do not edit.",
             f" * Model: {source}", f" * Hash:  {p.model_hash}",
             f" * {p.cell_kind} x {p.num_layers} layer(s), d={p.input_dim}, units={p.units}, "
             f"outputs={p.output_dim} ({p.head_kind})",
             " * Weight arrays hold int8 row pairs as int16 256 w_B + w_A, in the layout of",
             " * firmware/kernels/tr_matvec_s16_s8.c. */",
             '#include "model_data.h"', "", LAYOUT_CHECK, "", _ALIGN_MACRO, ""]
    empty = "{0, 0, 0, 0, 0}"
    layer_inits = []
    for index, layer in enumerate(p.layers):
        inits = {}
        stored = c_layout(p, layer)
        for name in DENSE_NAMES[p.cell_kind]:
            text, inits[name] = _dense_arrays(f"l{index}_{name}", layer[name], stored[name])
            parts.append(text)
        layer_inits.append("    {" + ", ".join(inits.get(n, empty) for n in
                                               ("gates", "candidate", "candidate_recurrent")) + "},")
    text, head_init = _dense_arrays("head", p.head)
    parts.append(text)
    parts.append("/* the layers, layer 0 nearest the input: {gates, candidate, candidate_recurrent} */\n"
                 "static const tr_layer_t tinyrnn_layers[TINYRNN_LAYERS] = {\n" + "\n".join(layer_inits) + "\n};\n")
    parts.append("const tinyrnn_model_t tinyrnn_model = {\n"
                 "    TINYRNN_INPUT_DIM, TINYRNN_UNITS, TINYRNN_OUTPUT_DIM, TINYRNN_LAYERS,\n"
                 "    TINYRNN_CELL_ID, TINYRNN_HEAD_ID, TINYRNN_INPUT_FRAC_BITS,\n"
                 f"    tinyrnn_layers,\n    {head_init}\n}};\n")
    return "\n".join(parts)


def write_model(params: KernelParams, out_dir: Path, source: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model_data.h").write_text(model_header(params, source))
    (out_dir / "model_data.c").write_text(model_source(params, source))


def weight_bytes(params: KernelParams) -> int:
    """Flash bytes of the generated model data (weights in layout + requant entries + structs)."""
    total = 0
    for layer in params.layers:
        for rows, w_a, w_b in c_layout(params, layer).values():
            total += 16 * rows + (interleave_weights(w_a, w_b).nbytes if w_b is not None else 0)
    return total + interleave_weights(params.head.weights_a, params.head.weights_b).nbytes + 16 * params.head.rows


def table_bytes() -> int:
    return 2 * 4 * fp.TABLE_SEGMENTS + 2 * (fp.TABLE_SEGMENTS + 1)


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m tinyrnn.quantize.emit.c_code",
                                     description="Regenerate firmware/kernels/tr_tables.{h,c} "
                                                 "(maintainers, from a clone)")
    parser.add_argument("--tables", action="store_true", help="write tr_tables.h and tr_tables.c")
    args = parser.parse_args(argv)
    if args.tables:
        write_tables()
        print(f"wrote {KERNELS_DIR / 'tr_tables.h'} and tr_tables.c")
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
