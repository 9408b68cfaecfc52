"""Property tests of the fixed-point helpers (quantize/twin/fixedpoint.py, mirrored by tr_fixedpoint.h and
tr_activation.c) against exact integer or real math, with the error bounds of docs/quantization.md."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.quantizer import bias_q, multiplier, quantize_rows
import pytest

pytestmark = pytest.mark.fast

int32s = st.integers(-2**31, 2**31 - 1)


@given(st.integers(-2**40, 2**40), st.integers(1, 30))
def test_round_shift_is_round_half_up(a, s):
    assert int(fp.round_shift(a, s)) == math.floor(Fraction(a, 2**s) + Fraction(1, 2))


@given(st.integers(-2**61, 2**61), int32s, st.integers(0, 2**31 - 1), int32s, st.integers(0, 2**31 - 1))
def test_requant_is_exact_floor_of_the_real_sum(bias, acc_a, m_a, acc_b, m_b):
    # |acc| * M < 2^62 each, |bias| < 2^61: the int64 sum cannot overflow (docs: "Overflow bounds")
    acc_a, acc_b = acc_a // 2, acc_b // 2
    got = int(fp.requant_q14(bias, acc_a, m_a, acc_b, m_b))
    assert got == (bias + acc_a * m_a + acc_b * m_b) // 2**32


@settings(max_examples=400)
@given(st.integers(-20 * 2**14, 20 * 2**14))
def test_activations_within_stated_bounds(z):
    x = z / 2**14
    assert abs(int(fp.sigmoid_q15(z)) - 32768 / (1 + math.exp(-x))) <= fp.SIGMOID_MAX_ERR_LSB
    assert abs(int(fp.tanh_q15(z)) - 32768 * math.tanh(x)) <= fp.TANH_MAX_ERR_LSB
    if z <= 0:
        assert abs(int(fp.exp_neg_q15(z)) - 32768 * math.exp(x)) <= fp.EXP_MAX_ERR_LSB


def test_activation_bounds_hold_exhaustively():
    z = np.arange(-20 * 2**14, 20 * 2**14, dtype=np.int64)
    x = z / 2**14
    assert np.abs(fp.sigmoid_q15(z) - 32768 / (1 + np.exp(-x))).max() <= fp.SIGMOID_MAX_ERR_LSB
    assert np.abs(fp.tanh_q15(z) - 32768 * np.tanh(x)).max() <= fp.TANH_MAX_ERR_LSB
    neg = z[z <= 0]
    assert np.abs(fp.exp_neg_q15(neg) - 32768 * np.exp(neg / 2**14)).max() <= fp.EXP_MAX_ERR_LSB


def test_activation_ranges_and_fixed_points():
    assert fp.sigmoid_q15(0) == 16384 and fp.tanh_q15(0) == 0 and fp.exp_neg_q15(0) == 32768
    assert fp.sigmoid_q15(-2**31) == 0 and fp.sigmoid_q15(2**31 - 1) == 32767
    assert fp.tanh_q15(-2**31) == -32768 and fp.tanh_q15(2**31 - 1) == 32767
    assert fp.exp_neg_q15(-2**31) == 0
    z = np.arange(-2**20, 2**20, 7)
    assert (np.diff(fp.sigmoid_q15(z)) >= 0).all() and (np.diff(fp.tanh_q15(z)) >= 0).all()


@given(st.lists(st.integers(-20 * 2**14, 20 * 2**14), min_size=1, max_size=12))
def test_softmax_sums_to_one_within_rounding(logits):
    p = fp.softmax_q15(np.array(logits))
    assert (p >= 0).all() and (p <= 32768).all()
    assert abs(int(p.sum()) - 32768) <= len(logits)
    assert p[int(np.argmax(logits))] == p.max()


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40))
def test_quantize_rows_error_is_half_a_step(row):
    w = np.array([row])
    q, s = quantize_rows(w)
    assert np.abs(q).max() <= 127
    if s[0] > 0:
        assert np.abs(q * s[0] - w).max() <= s[0] / 2 + 1e-12
        assert np.abs(q).max() == 127


@given(st.floats(0, 0.0624), st.floats(-100, 100, allow_nan=False))
def test_multiplier_and_bias_encode_their_values(scale, b):
    m = int(multiplier(np.array([scale]), 11)[0])
    assert m <= 2**31 - 1 and abs(m - scale * 2**35) <= 0.5
    assert abs((int(bias_q(np.array([b]))[0]) - 2**31) / 2**46 - b) <= 2**-47
