"""Fixed-point formats, helpers and activation tables: the Python twin of
`firmware/kernels/tr_fixedpoint.h` and `tr_activation.c`.

This module is the single source of truth for every constant of the kernel's arithmetic (Q formats,
table ranges and sizes). `quantize/emit/c_code.py` writes the C side of these constants into
`firmware/kernels/tr_tables.c` and `tr_tables.h`; a test regenerates them and requires identical text.

All functions take and return numpy integer arrays (or Python ints) and work element-wise. They use
int64 internally, which is wide enough for every intermediate the spec allows (see docs/quantization.md,
"Overflow bounds"). `>>` on numpy int64 is an arithmetic (flooring) shift, like the C kernels assume.
"""
from __future__ import annotations

import math

import numpy as np

# ---- Q formats (docs/quantization.md, "Tensors and formats") ------------------------------------
STATE_FRAC_BITS = 15        # hidden state h, gate outputs: Q15 int16
PREACT_FRAC_BITS = 14       # gate pre-activations z, LSTM cell c, head logits: Q14 int32
PROB_FRAC_BITS = 15         # softmax probabilities: Q15, 0..32768
REQUANT_SHIFT = 32          # z = (B + acc*M) >> 32: the multipliers carry 32 extra fractional bits
DEFAULT_INPUT_FRAC_BITS = 11  # Q11 normalised input: +-16 standard deviations, 1/2048 resolution
MAX_INPUT_FRAC_BITS = 13   # raised from 11 only for large input weights (+-4 std range)

INT16_MIN, INT16_MAX = -32768, 32767
INT32_MAX = 2**31 - 1

# ---- activation tables (docs/quantization.md, "Activations") -----------------------------------
TABLE_SEGMENTS = 512        # every table: 512 linear segments, 513 entries
SIGMOID_RANGE = 16          # sigmoid table covers [-16, 16)
TANH_RANGE = 8              # tanh table covers [-8, 8)
EXP_RANGE = 16              # exp table covers [-16, 0]


def _segment_frac_bits(width: int) -> int:
    """Fractional bits of a Q14 input inside one table segment, for a table spanning `width`."""
    bits = math.log2(width * 2**PREACT_FRAC_BITS / TABLE_SEGMENTS)
    assert bits == int(bits), "table width and segment count must give a power-of-two segment"
    return int(bits)


SIGMOID_LO = -SIGMOID_RANGE << PREACT_FRAC_BITS        # Q14 lower end of the table
SIGMOID_SEG_BITS = _segment_frac_bits(2 * SIGMOID_RANGE)  # 10
TANH_LO = -TANH_RANGE << PREACT_FRAC_BITS
TANH_SEG_BITS = _segment_frac_bits(2 * TANH_RANGE)         # 9
EXP_LO = -EXP_RANGE << PREACT_FRAC_BITS
EXP_SEG_BITS = _segment_frac_bits(EXP_RANGE)               # 9
EXP_ONE_Q15 = 1 << PROB_FRAC_BITS                          # exp(0) = 32768


def sat16(v):
    """Clamp to the int16 range."""
    return np.clip(v, INT16_MIN, INT16_MAX)


def round_shift(a, s: int):
    """(a + 2^(s-1)) >> s with a flooring shift: division by 2^s, rounding half up. s >= 1."""
    return (np.asarray(a, dtype=np.int64) + (1 << (s - 1))) >> s


def requant_q14(bias, acc_a, mult_a, acc_b=0, mult_b=0):
    """Gate pre-activation in Q14: (B + acc_a*M_a + acc_b*M_b) >> 32, all in int64.

    `bias` already holds the rounding constant 2^31 (see `quantize/twin/quantizer.py`), so the shift rounds half up.
    """
    total = (np.asarray(bias, dtype=np.int64)
             + np.asarray(acc_a, dtype=np.int64) * np.asarray(mult_a, dtype=np.int64)
             + np.asarray(acc_b, dtype=np.int64) * np.asarray(mult_b, dtype=np.int64))
    return total >> REQUANT_SHIFT


def _make_table(fn, lo_real: float, width: float, lo_value: int, hi_value: int) -> np.ndarray:
    """513 samples of `fn` at the segment ends, in Q15, rounded half away from zero, then clamped."""
    xs = lo_real + width * np.arange(TABLE_SEGMENTS + 1, dtype=np.float64) / TABLE_SEGMENTS
    values = np.array([math.floor(abs(v) * 32768.0 + 0.5) * (1 if v >= 0 else -1) for v in fn(xs)],
                      dtype=np.int64)
    return np.clip(values, lo_value, hi_value)


SIGMOID_TABLE = _make_table(lambda x: 1.0 / (1.0 + np.exp(-x)), -SIGMOID_RANGE, 2 * SIGMOID_RANGE,
                            INT16_MIN, INT16_MAX)
TANH_TABLE = _make_table(np.tanh, -TANH_RANGE, 2 * TANH_RANGE, INT16_MIN, INT16_MAX)
EXP_TABLE = _make_table(np.exp, -EXP_RANGE, EXP_RANGE, 0, EXP_ONE_Q15)  # unsigned: holds 32768


def table_interp(table: np.ndarray, lo: int, seg_bits: int, z):
    """Linear interpolation in a 513-entry table over Q14 input `z` (clamped to the table's range)."""
    hi = lo + (TABLE_SEGMENTS << seg_bits)
    t = np.clip(np.asarray(z, dtype=np.int64), lo, hi - 1) - lo
    i = t >> seg_bits
    frac = t & ((1 << seg_bits) - 1)
    y0 = table[i]
    y1 = table[i + 1]
    return y0 + round_shift((y1 - y0) * frac, seg_bits)


def sigmoid_q15(z_q14):
    """sigmoid of a Q14 pre-activation, Q15 int16 result (0..32767)."""
    return table_interp(SIGMOID_TABLE, SIGMOID_LO, SIGMOID_SEG_BITS, z_q14)


def tanh_q15(z_q14):
    """tanh of a Q14 pre-activation, Q15 int16 result (-32768..32767)."""
    return table_interp(TANH_TABLE, TANH_LO, TANH_SEG_BITS, z_q14)


def exp_neg_q15(d_q14):
    """exp(d) for d <= 0 in Q14; unsigned Q15 result (0..32768), exactly 32768 for d >= 0."""
    d = np.asarray(d_q14, dtype=np.int64)
    return np.where(d >= 0, EXP_ONE_Q15, table_interp(EXP_TABLE, EXP_LO, EXP_SEG_BITS, np.minimum(d, -1)))


def softmax_q15(logits_q14):
    """Fixed-point softmax over the last axis: Q14 logits -> Q15 probabilities (0..32768)."""
    logits = np.asarray(logits_q14, dtype=np.int64)
    e = exp_neg_q15(logits - logits.max(axis=-1, keepdims=True))
    total = e.sum(axis=-1, keepdims=True)
    return ((e << PROB_FRAC_BITS) + (total >> 1)) // total   # unsigned division, both operands >= 0


# ---- error bounds of the activations versus exact math, in Q15 LSB (tested with hypothesis) ------
# Interpolation error max|f''| h^2 / 8 plus half an LSB from rounding the table entries and the
# interpolated value, plus what the input's Q14 rounding is worth (|f'| * 2^-14 * 2^15 <= 2 LSB)
# is not included: the bounds below are for an exact Q14 input.
SIGMOID_MAX_ERR_LSB = 2.5
TANH_MAX_ERR_LSB = 4.0
EXP_MAX_ERR_LSB = 5.0
