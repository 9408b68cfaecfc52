"""The exported library's input pre-processing, in integers: the twin of `<name>_push_int` / `_push_float`.

The kernel takes int16 Q(xf) inputs of the *normalised* value (x - mean) / std. The library folds the
normalisation, the unit of the user's integers and the block average of `downsample` frames into one
multiply-add-shift per channel, so a core without an FPU needs no float at all:

    sum = raw_1 + ... + raw_N                      int64, N = downsample frames of int32 raw values
    x_q = sat16((sum * mult + bias) >> shift)      mult int32, bias int64 (rounding included), 0 <= shift <= 62

with value = raw * scale in the unit the model was trained on, mult = round(scale * 2^(xf + shift) / (std * N))
and bias = round(-mean / std * 2^(xf + shift)) + 2^(shift - 1). `shift` puts |mult| in [2^(29-c), 2^(30-c))
(c = ceil(log2 N)), so |sum * mult| < 2^62 for every int32 raw value.

The float entry point first turns each value into such an integer with a power-of-two scale 2^-float_bits:
v = x * 2^float_bits (exact in binary floating point), raw = floor(v + 0.5) (v itself when |v| >= 2^23, where
float32 values are already integers), clamped to +-2^30; NaN gives 0. Every step is exact in IEEE single
precision, so the C float path gives the same integers on every core, with or without an FPU, with or without
fused multiply-add.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinyrnn.quantize.twin import fixedpoint as fp

RAW_LIMIT = 1 << 30          # float path: raw values are clamped to +-2^30
MAX_SHIFT = 62


@dataclass(frozen=True)
class InputFold:
    """Per channel: x_q = sat16((sum * mult + bias) >> shift) over the sum of `downsample` raw values."""
    mult: np.ndarray          # int64 (values fit int32)
    bias: np.ndarray          # int64
    shift: np.ndarray         # int64, 0..62
    downsample: int


def _headroom_bits(downsample: int) -> int:
    return max(0, math.ceil(math.log2(downsample))) if downsample > 1 else 0


def fold_input(mean, std, input_frac_bits: int, scale, downsample: int = 1) -> InputFold:
    """The integer constants for raw values with `scale` (per channel, value = raw * scale); ValueError when a
    scale is not positive or is too far from the channel's std to fold (more than ~2^60 apart)."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), mean.shape)
    if downsample < 1:
        raise ValueError(f"downsample must be >= 1, not {downsample}")
    top = 30 - _headroom_bits(downsample)          # |mult| < 2^top
    mults, biases, shifts = [], [], []
    for m, s, sc in zip(mean, std, scale):
        if not (sc > 0 and math.isfinite(sc)):
            raise ValueError(f"integer scale must be a positive number, not {sc}")
        gain = sc * 2.0 ** input_frac_bits / (s * downsample)      # x_q per raw unit, before the shift
        shift = top - 1 - math.floor(math.log2(gain))              # puts gain * 2^shift in [2^(top-1), 2^top)
        if not 0 <= shift <= MAX_SHIFT:
            raise ValueError(f"integer scale {sc:g} is out of range for a channel with std {s:g}")
        mult = round(gain * 2.0 ** shift)
        if mult >= 1 << top:                                       # rounding reached the next power of two
            mult >>= 1
            shift -= 1
        bias = round(-m / s * 2.0 ** (input_frac_bits + shift)) + ((1 << shift) >> 1)
        if abs(bias) >= 1 << 62:
            raise ValueError(f"channel mean {m:g} is too large for integer scale {sc:g}")
        mults.append(mult)
        biases.append(bias)
        shifts.append(shift)
    return InputFold(np.array(mults, np.int64), np.array(biases, np.int64), np.array(shifts, np.int64), downsample)


def float_frac_bits(mean, std) -> int:
    """Power-of-two fractional bits of the float path's raw integers: +-2^30 covers |mean| + 64 std of every
    channel (at least +-1), so ordinary sensor values never clamp."""
    reach = max(1.0, float(np.max(np.abs(np.asarray(mean, np.float64)) + 64.0 * np.asarray(std, np.float64))))
    return int(max(0, min(MAX_SHIFT, 30 - math.ceil(math.log2(reach)))))


def float_to_raw(x, frac_bits: int) -> np.ndarray:
    """float32 values -> int64 raw integers (see the module docstring), exactly as the C float path."""
    v = np.asarray(x, dtype=np.float32).astype(np.float64) * 2.0 ** frac_bits     # exact, as float32 * 2^k
    nan = np.isnan(v)
    v = np.where(nan, 0.0, v)
    r = np.where(np.abs(v) >= 2.0 ** 23, v, np.floor(v + 0.5))
    return np.clip(r, -RAW_LIMIT, RAW_LIMIT).astype(np.int64)


def quantize_raw_sum(raw_sum, fold: InputFold) -> np.ndarray:
    """Sum of `downsample` raw values (..., d) -> int16 Q(xf) kernel inputs."""
    raw_sum = np.asarray(raw_sum, dtype=np.int64)
    return fp.sat16((raw_sum * fold.mult + fold.bias) >> fold.shift).astype(np.int16)


def quantize_frames(raw_frames, fold: InputFold) -> np.ndarray:
    """Raw frames (T, d) -> kernel inputs (T // downsample, d): block sums, then quantize_raw_sum.
    Leftover frames at the end (fewer than downsample) make no step, as in the library."""
    raw = np.asarray(raw_frames, dtype=np.int64)
    n = fold.downsample
    steps = raw.shape[0] // n
    sums = raw[:steps * n].reshape(steps, n, raw.shape[1]).sum(axis=1)
    return quantize_raw_sum(sums, fold)
