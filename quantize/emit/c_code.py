"""C generation: the model's `c/model_data.{h,c}` and the kernel's `firmware/kernels/tr_tables.{h,c}` and
`tr_tables_seg.c` (and the RV32IM path's own table form, `firmware/kernels/rv32/tr_tables_rv32.{h,c}`).

The output is deterministic (same parameters -> same text), readable (named arrays, one comment per
array) and compiles with -std=c99 -pedantic -Wall -Wextra -Werror on the host and every Cortex-M target.
Names are `tinyrnn_l<layer>_<product>_{weights,requant}` and `tinyrnn_head_{weights,requant}`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyrnn.quantize.sources import KERNELS_DIR, SEGMENT_TABLES_SOURCE
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.params import DENSE_NAMES, KernelParams
from tinyrnn.quantize.twin.cells import pad4, scratch_words, state_words

ROW_BLOCK = 4   # rows per block in the row-pair layout; TR_ROW_BLOCK in tr_matvec_s16_s8.c
BYTE_BLOCK = 16  # rows per block in the byte layout; TR_BYTE_BLOCK in tr_matvec_s16_s8.c
# The generated C's weight layouts (TINYRNN_KERNEL_C_LAYOUT in firmware/kernels/tinyrnn.h names the one a kernel
# build reads; quantize/targets.py Core.weight_layout the one of each core). Give a changed layout a new number:
# the model hash covers kernel.bin, not these layouts.
LAYOUT_PAIRS = 2   # int8 row pairs as int16 halfwords 256 w_B + w_A (SMLALD): Arm paths, plain C, hosts
LAYOUT_BYTES = 3   # int8 weights, blocks of 16 rows, column-major inside a block (lb; mul; add): RV32IM
LAYOUTS = (LAYOUT_PAIRS, LAYOUT_BYTES)   # every model_data.c carries these (each under #if of the kernel's)
C_LAYOUT = LAYOUT_PAIRS                   # the layout of the plain-C reference and of the host builds
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ALIGN_MACRO = """#if defined(__GNUC__) || defined(__clang__)
#define TINYRNN_ALIGN(n) __attribute__((aligned(n)))
#else
#define TINYRNN_ALIGN(n) /* alignment: the compiler's default; set it for your compiler if needed */
#endif"""


LAYOUT_ERROR = ('#error "model_data.c holds no weights in the layout these kernels read (TINYRNN_KERNEL_C_LAYOUT): '
                're-run tinyrnn export <dir>"')
LAYOUT_DEFINE = re.compile(r"^#define TINYRNN_C_LAYOUT_(\d+) 1", re.MULTILINE)


def header_layouts(text: str) -> set:
    """The weight layouts a generated model_data.h declares it carries (TINYRNN_C_LAYOUT_<n>); empty for C
    generated before this versioning (one layout, 2, declared as TINYRNN_C_LAYOUT)."""
    return {int(n) for n in LAYOUT_DEFINE.findall(text)}


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


def byte_block_weights(w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """Row-major int8 weights [W_a | W_b] -> the flat byte layout (LAYOUT_BYTES) of tr_matvec_s16_s8.c.

    Blocks of BYTE_BLOCK rows (the last holds the remainder, padded with zero rows to 4, 8 or 16 rows: its width);
    inside a block, input a's columns then input b's (no column padding), and per column the block's `width`
    weights one after the other (int8 array). Each sum stays exact in int32 (check_int32_sums).
    """
    rows = w_a.shape[0]
    out = []
    for start in range(0, rows, BYTE_BLOCK):
        n = min(BYTE_BLOCK, rows - start)
        width = 16 if n > 8 else 8 if n > 4 else 4
        for w in (w_a, w_b):
            block = np.zeros((width, w.shape[1]), dtype=np.int8)
            block[:n] = w[start:start + n]
            out.append(block.T.reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int8)


INT16_MAGNITUDE = 1 << 15     # |x| of any kernel input (int16)


def check_int32_sums(w: np.ndarray) -> None:
    """The byte layout's kernels sum a row over one input in int32: exact when sum |w| * 2^15 < 2^31 for every
    row (docs/quantization.md, "32-bit accumulation"). The quantizer's refusals (|w| <= 127, inputs of at most
    256 columns) already give < 2^30; this keeps the generator from emitting C that could overflow otherwise."""
    worst = int(np.abs(w.astype(np.int64)).sum(axis=1).max(initial=0))
    if worst * INT16_MAGNITUDE >= 1 << 31:
        raise ValueError(f"a row's sum |w| = {worst} could overflow an int32 sum (limit {(1 << 16) - 1})")


def layout_weights(layout: int, w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """A product's weights [W_a | W_b] in one of LAYOUTS (the C type: LAYOUT_CTYPE)."""
    if layout == LAYOUT_PAIRS:
        return interleave_weights(w_a, w_b)
    if layout == LAYOUT_BYTES:
        check_int32_sums(w_a)
        check_int32_sums(w_b)
        return byte_block_weights(w_a, w_b)
    raise ValueError(f"no weight layout {layout} (known: {LAYOUTS})")


LAYOUT_CTYPE = {LAYOUT_PAIRS: "int16_t", LAYOUT_BYTES: "int8_t"}
LAYOUT_TEXT = {LAYOUT_PAIRS: "int8 row pairs as int16 256 w_B + w_A, blocks of 4 rows",
               LAYOUT_BYTES: "int8, blocks of 16 rows, column-major inside a block"}


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


# The first lines of every generated table file (the rest of its comment follows).
TABLES_BANNER = ("/* GENERATED by quantize/emit/c_code.py from quantize/twin/fixedpoint.py: do not edit.",
                 " * Regenerate: python -m tinyrnn.quantize.emit.c_code --tables")


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
    lines = [*TABLES_BANNER[:-1], TABLES_BANNER[-1] + " */",
             "#ifndef TR_TABLES_H", "#define TR_TABLES_H", "", "#include <stdint.h>", ""]
    for name, value, comment in consts:
        value_text = f"({value})" if value < 0 else str(value)
        lines.append(f"#define {name} {value_text}  /* {comment} */")
    n = fp.TABLE_SEGMENTS + 1
    seg = fp.TABLE_SEGMENTS
    lines += ["", "/* sigmoid and tanh by segment: word i = (T[i+1] - T[i]) << 16 | (T[i] & 0xFFFF), the segment's "
              "start",
              " * value in the low halfword and its rise in the high one (one load per lookup; quantize/emit/c_code.py",
              f" * segment_words; defined in {SEGMENT_TABLES_SOURCE.name}, exp in tr_tables.c). */",
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


def segment_pairs(table, seg_bits: int) -> list:
    """The RV32IM path's form of a table of TABLE_SEGMENTS + 1 int16 values: two int32 words per segment i,
    start' = T[i] 2^s + 2^(s-1) - rise i 2^s and rise = T[i+1] - T[i] (s = seg_bits). With t = i 2^s + frac the
    offset of an input from the table's first one (0 <= frac < 2^s), start' + rise t = T[i] 2^s + 2^(s-1) + rise frac,
    whose arithmetic shift right by s is T[i] + ((rise frac + 2^(s-1)) >> s): the twin's value (fixedpoint.table_interp)
    with no mask of t and no rounding add. Exact on a 32-bit core when that sum fits int32 (then the wrapping of
    start' + rise t in int32 arithmetic cannot change it) and start' does (it is stored as int32): checked here for
    every segment at both ends of its fraction (the sum is monotonic in frac), and against the twin for every t."""
    values = [int(v) for v in table]
    words = []
    for i, (start, end) in enumerate(zip(values[:-1], values[1:])):
        rise = end - start
        start_prime = (start << seg_bits) + (1 << (seg_bits - 1)) - ((rise * i) << seg_bits)
        for frac in (0, (1 << seg_bits) - 1):
            total = (start << seg_bits) + (1 << (seg_bits - 1)) + rise * frac
            assert -(1 << 31) <= total < 1 << 31, f"segment {i}: start' + rise t overflows int32"
        assert -(1 << 31) <= start_prime < 1 << 31 and -(1 << 31) <= rise < 1 << 31, f"segment {i}: word overflows"
        words += [start_prime, rise]
    t = np.arange(fp.TABLE_SEGMENTS << seg_bits, dtype=np.int64)
    pairs = np.asarray(words, dtype=np.int64).reshape(-1, 2)
    seg = pairs[t >> seg_bits]
    wrapped = (seg[:, 0] + seg[:, 1] * t + (1 << 31)) % (1 << 32) - (1 << 31)   # int32 arithmetic
    lo = -(fp.TABLE_SEGMENTS << (seg_bits - 1))
    assert np.array_equal(wrapped >> seg_bits, fp.table_interp(np.asarray(values), lo, seg_bits, t + lo)), \
        "the pair form differs from the twin"
    return words


def tables_source() -> str:
    """tr_tables.c: the exp table, which every target's softmax reads."""
    n = fp.TABLE_SEGMENTS + 1
    return "\n".join([
        *TABLES_BANNER,
        " * Activation tables (docs/quantization.md, \"Activations\"), in flash: exp here, which every target reads;",
        f" * sigmoid and tanh one word a segment in {SEGMENT_TABLES_SOURCE.name}. */",
        '#include "tr_tables.h"', "", _ALIGN_MACRO, "",
        c_array("uint16_t", "tr_exp_table", fp.EXP_TABLE, f"exp on [-{fp.EXP_RANGE}, 0], {n} entries, unsigned Q15")])


def segment_tables_source() -> str:
    """tr_tables_seg.c: sigmoid and tanh one word a segment (segment_words), which every kernel path but rv32 reads,
    and the plain-C loops behind rv32's hooks where the compiler keeps them (-O0, -Og)."""
    n = fp.TABLE_SEGMENTS
    return "\n".join([
        *TABLES_BANNER,
        " * The sigmoid and tanh tables one word a segment (tr_tables.h), in flash. Every kernel path reads them but",
        " * the rv32 one, whose own form is rv32/tr_tables_rv32.c: an optimised rv32 build refers to nothing here",
        " * (an unoptimised one does, from the plain-C loops behind the path's hooks), hence a unit of their own. */",
        '#include "tr_tables.h"', "", _ALIGN_MACRO, "",
        c_array("int32_t", "tr_sigmoid_seg", segment_words(fp.SIGMOID_TABLE),
                f"sigmoid on [-{fp.SIGMOID_RANGE}, {fp.SIGMOID_RANGE}], {n} segments: rise << 16 | start, Q15",
                per_line=8),
        c_array("int32_t", "tr_tanh_seg", segment_words(fp.TANH_TABLE),
                f"tanh on [-{fp.TANH_RANGE}, {fp.TANH_RANGE}], {n} segments: rise << 16 | start, Q15", per_line=8)])


RV32_TABLES = "rv32/tr_tables_rv32"     # the RV32IM path's own table form, under firmware/kernels (.h and .c)


def rv32_tables_header() -> str:
    seg = fp.TABLE_SEGMENTS
    return "\n".join([
        *TABLES_BANNER,
        " * The RV32IM path's own form of the sigmoid and tanh tables (its lookups alone read it; the other targets,",
        " * and the plain-C loops behind the path's hooks, read ../tr_tables.h's one word a segment): two int32 words",
        " * per segment i, start' = T[i] 2^s + 2^(s-1) - rise i 2^s and rise = T[i+1] - T[i] (s = the table's segment",
        " * bits), so that a lookup is (start' + rise t) >> s with t the offset from the table's first input: no mask",
        " * of the fraction, no rounding add (quantize/emit/c_code.py segment_pairs, which checks it exact;",
        " * docs/quantization.md, \"Activations\"). */",
        "#ifndef TR_TABLES_RV32_H", "#define TR_TABLES_RV32_H", "", "#include <stdint.h>", "",
        f"extern const int32_t tr_sigmoid_pairs[{2 * seg}];  /* Q15 sigmoid: start', rise per segment */",
        f"extern const int32_t tr_tanh_pairs[{2 * seg}];     /* Q15 tanh: start', rise per segment */",
        "", "#endif /* TR_TABLES_RV32_H */", ""])


def rv32_tables_source() -> str:
    n = fp.TABLE_SEGMENTS
    return "\n".join([
        *TABLES_BANNER,
        " * The RV32IM path's sigmoid and tanh tables (tr_tables_rv32.h), in flash; nothing on other targets. */",
        '#include "../tr_fast_path.h"', '#include "tr_tables_rv32.h"', "",
        "#if TR_FAST_PATH_RV32", "", _ALIGN_MACRO, "",
        c_array("int32_t", "tr_sigmoid_pairs", segment_pairs(fp.SIGMOID_TABLE, fp.SIGMOID_SEG_BITS),
                f"sigmoid on [-{fp.SIGMOID_RANGE}, {fp.SIGMOID_RANGE}], {n} segments: start', rise, Q15", per_line=8),
        c_array("int32_t", "tr_tanh_pairs", segment_pairs(fp.TANH_TABLE, fp.TANH_SEG_BITS),
                f"tanh on [-{fp.TANH_RANGE}, {fp.TANH_RANGE}], {n} segments: start', rise, Q15", per_line=8),
        "#endif /* TR_FAST_PATH_RV32 */", ""])


def write_tables(directory: Path = KERNELS_DIR) -> None:
    (directory / "tr_tables.h").write_text(tables_header())
    (directory / "tr_tables.c").write_text(tables_source())
    (directory / SEGMENT_TABLES_SOURCE.name).write_text(segment_tables_source())
    (directory / f"{RV32_TABLES}.h").write_text(rv32_tables_header())
    (directory / f"{RV32_TABLES}.c").write_text(rv32_tables_source())


# ---- c/model_data.{h,c} ------------------------------------------------------------------------------

def model_header(params: KernelParams, source: str) -> str:
    p = params
    macros = [
        ("TINYRNN_MODEL_HASH", f'"{p.model_hash}"', "first 8 bytes of SHA-256 over kernel.bin"),
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
    lines += [f"#define TINYRNN_C_LAYOUT_{layout} 1  /* model_data.c holds the weights in layout {layout}: "
              f"{LAYOUT_TEXT[layout]} */" for layout in LAYOUTS]
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


def _dense_arrays(prefix: str, dense, stored=None) -> tuple[dict, str, str]:
    """({layout: weight array definition}, requant array definition, tr_dense_t initializer) of one product;
    `stored` as from c_layout."""
    rows, w_a, w_b = stored if stored is not None else (dense.rows, dense.weights_a, dense.weights_b)
    name_w, name_q = f"tinyrnn_{prefix}_weights", f"tinyrnn_{prefix}_requant"
    cols_a = w_a.shape[1]
    weights = {}
    if w_b is None:                                      # requantisation only (weights in another product)
        name_w, cols_b = "0", 0
    else:
        cols_b = w_b.shape[1]
        for layout in LAYOUTS:
            weights[layout] = c_array(LAYOUT_CTYPE[layout], name_w, layout_weights(layout, w_a, w_b),
                                      f"{prefix}: {rows} rows x ({cols_a} + {cols_b}) columns, "
                                      f"{LAYOUT_TEXT[layout]}")
    entries = "\n".join(f"    {{{int(b)}LL, {int(ma)}, {int(mb)}}},"
                        for b, ma, mb in zip(dense.bias, dense.mult_a, dense.mult_b))
    requant = (f"/* {prefix}: per row {{bias Q46 + 2^31, input multiplier, recurrent multiplier}} */\n"
               f"static const tr_requant_t {c_identifier(name_q)}[{rows}] TINYRNN_ALIGN(8) = {{\n{entries}\n}};\n")
    init = f"{{{rows}, {cols_a}, {cols_b}, {name_w}, {name_q}}}"
    return weights, requant, init


def model_source(params: KernelParams, source: str) -> str:
    p = params
    parts = ["/* GENERATED by quantize/emit/c_code.py: do not edit.",
             f" * Model: {source}", f" * Hash:  {p.model_hash}",
             f" * {p.cell_kind} x {p.num_layers} layer(s), d={p.input_dim}, units={p.units}, "
             f"outputs={p.output_dim} ({p.head_kind})",
             " * The weight arrays come in every layout of firmware/kernels/tr_matvec_s16_s8.c; the kernels' own",
             " * (TINYRNN_KERNEL_C_LAYOUT, chosen per core) is compiled, the others are not. */",
             '#include "model_data.h"', "", _ALIGN_MACRO, ""]
    empty = "{0, 0, 0, 0, 0}"
    layer_inits = []
    weights = {layout: [] for layout in LAYOUTS}
    requants = []
    products = []
    for index, layer in enumerate(p.layers):
        stored = c_layout(p, layer)
        products += [(f"l{index}_{name}", layer[name], stored[name]) for name in DENSE_NAMES[p.cell_kind]]
    products.append(("head", p.head, None))
    inits = {}
    for prefix, dense, stored in products:
        arrays, requant, inits[prefix] = _dense_arrays(prefix, dense, stored)
        for layout, text in arrays.items():
            weights[layout].append(text)
        requants.append(requant)
    keyword = "#if"
    for layout in LAYOUTS:
        parts.append(f"{keyword} TINYRNN_KERNEL_C_LAYOUT == {layout} && defined(TINYRNN_C_LAYOUT_{layout})")
        parts += weights[layout]
        keyword = "#elif"
    parts += ["#else", LAYOUT_ERROR, "#endif", ""]
    parts += requants
    for index in range(p.num_layers):
        layer_inits.append("    {" + ", ".join(inits.get(f"l{index}_{n}", empty) for n in
                                               ("gates", "candidate", "candidate_recurrent")) + "},")
    parts.append("/* the layers, layer 0 nearest the input: {gates, candidate, candidate_recurrent} */\n"
                 "static const tr_layer_t tinyrnn_layers[TINYRNN_LAYERS] = {\n" + "\n".join(layer_inits) + "\n};\n")
    parts.append("const tinyrnn_model_t tinyrnn_model = {\n"
                 "    TINYRNN_INPUT_DIM, TINYRNN_UNITS, TINYRNN_OUTPUT_DIM, TINYRNN_LAYERS,\n"
                 "    TINYRNN_CELL_ID, TINYRNN_HEAD_ID, TINYRNN_INPUT_FRAC_BITS,\n"
                 f"    tinyrnn_layers,\n    {inits['head']}\n}};\n")
    return "\n".join(parts)


def write_model(params: KernelParams, out_dir: Path, source: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model_data.h").write_text(model_header(params, source))
    (out_dir / "model_data.c").write_text(model_source(params, source))


def weight_bytes(params: KernelParams, layout: int = C_LAYOUT) -> int:
    """Flash bytes of the generated model data in one layout (weights + requant entries + structs)."""
    total = 0
    for layer in params.layers:
        for rows, w_a, w_b in c_layout(params, layer).values():
            total += 16 * rows + (layout_weights(layout, w_a, w_b).nbytes if w_b is not None else 0)
    head = params.head
    return total + layout_weights(layout, head.weights_a, head.weights_b).nbytes + 16 * head.rows


def table_bytes(kernel_path: str) -> int:
    """Flash bytes of the activation tables a kernel path reads (quantize/targets.py Core.kernel_path), as a linker
    that drops what nothing refers to keeps them: sigmoid and tanh in the path's form (rv32: segment_pairs, two
    words a segment; every other path: segment_words, one) and the exp table. The estimate without a toolchain;
    build.kernel_model_flash measures the same figure from the objects (a test checks that they agree)."""
    words_per_segment = 2 if kernel_path == "rv32" else 1
    return 2 * 4 * words_per_segment * fp.TABLE_SEGMENTS + 2 * len(fp.EXP_TABLE)


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m tinyrnn.quantize.emit.c_code",
                                     description="Regenerate firmware/kernels/tr_tables.{h,c}, tr_tables_seg.c and "
                                                 "rv32/tr_tables_rv32.{h,c} "
                                                 "(maintainers, from a clone)")
    parser.add_argument("--tables", action="store_true",
                        help="write tr_tables.{h,c}, tr_tables_seg.c and rv32/tr_tables_rv32.{h,c}")
    args = parser.parse_args(argv)
    if args.tables:
        write_tables()
        print(f"wrote {KERNELS_DIR / 'tr_tables.h'}, tr_tables.c, {SEGMENT_TABLES_SOURCE.name} and "
              f"{RV32_TABLES}.{{h,c}}")
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
