"""Raw input frames that give exactly the kernel inputs a board reported, for `tinyrnn monitor --out`.

A board's live lines carry the int16 kernel inputs x_q it used (after normalisation and downsampling), not its
raw sensor values. The session is saved as raw frames in the recordings format, so that `tinyrnn predict` and
`tinyrnn harness --inputs` run it as they run any recording: through the exported library's push_float
pre-processing (quantize/twin/preprocess.py, as host/check/recordings.py applies it). Inverting the float
normalisation (mean + std * x_q / 2^xf) would land near rounding boundaries and could come back one LSB off;
instead, per value, we search the float path's integer grid:

    r  raw integer of 2^-FLOAT_FRAC_BITS units, with sat16((N*r * mult + bias) >> shift) == x_q
       (N = downsample; the fold is monotonic in r, so a binary search finds the interval of such r)
    v  = r * 2^-FLOAT_FRAC_BITS, r chosen in that interval so that v is a float32 (the interval is thousands of
       integers wide, a float32 near its middle is in it), written as the shortest decimal of that float32

and each step's frame is repeated N times (their block sum is N*r). `reproduces` checks the result the way
predict reads it, so a file that would not give back the same x_q is never written.
"""
from __future__ import annotations

import numpy as np

from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.twin import preprocess as pp


def _fold(raw: np.ndarray, pre: Preprocess) -> np.ndarray:
    """x_q of raw integer frames (..., d) repeated `downsample` times (the sum is downsample * raw)."""
    return pp.quantize_raw_sum(np.asarray(raw, np.int64) * pre.downsample, pre.float_fold)


def _first_reaching(x_q: np.ndarray, pre: Preprocess) -> np.ndarray:
    """Per value, the smallest raw integer r in +-2^30 whose fold is >= x_q (2^30 + 1 when none is)."""
    lo = np.full(x_q.shape, -pp.RAW_LIMIT, np.int64)
    hi = np.full(x_q.shape, pp.RAW_LIMIT + 1, np.int64)
    target = x_q.astype(np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        below = _fold(np.minimum(mid, pp.RAW_LIMIT), pre) < target
        below = np.where(mid > pp.RAW_LIMIT, False, below)
        lo = np.where(below & (lo < hi), mid + 1, lo)
        hi = np.where(~below & (lo < hi), mid, hi)
    return lo


def raw_frames(x_q, pre: Preprocess) -> np.ndarray:
    """Kernel inputs (T, d) int16 -> float32 raw frames (T * downsample, d) that push_float turns back into
    exactly x_q. ValueError for an x_q no raw value reaches (outside what the fold can give for this channel)."""
    x_q = np.asarray(x_q, np.int16)
    first = _first_reaching(x_q, pre)
    last = _first_reaching((x_q.astype(np.int64) + 1).clip(max=1 << 15), pre) - 1
    last = np.where(x_q == np.iinfo(np.int16).max, pp.RAW_LIMIT, last)
    if np.any(first > last) or np.any(first > pp.RAW_LIMIT):
        bad = np.argwhere(first > last)[0]
        raise ValueError(f"kernel input {int(x_q[tuple(bad)])} (step {bad[0]}, channel {bad[1]}) is not one the "
                         "model's pre-processing can give")
    scale = 2.0 ** -pre.float_bits
    middle = (first + last) // 2
    # The float32 nearest the middle of the interval, unless that leaves it (narrow interval): then its end.
    as_float = (middle * scale).astype(np.float32)
    raw = pp.float_to_raw(as_float, pre.float_bits)
    ok = (raw >= first) & (raw <= last)
    values = np.where(ok, as_float, (first * scale).astype(np.float32)).astype(np.float32)
    return np.repeat(values, pre.downsample, axis=0)


def reproduces(frames, x_q, pre: Preprocess) -> bool:
    """True when push_float's pre-processing turns `frames` into exactly `x_q`."""
    got = pp.quantize_frames(pp.float_to_raw(np.asarray(frames, np.float32), pre.float_bits), pre.float_fold)
    return got.shape == np.shape(x_q) and bool(np.array_equal(got, x_q))
