"""Tiny synthetic sequence data sets for fast tests, written in the documented CSV / NPZ formats."""

from __future__ import annotations

import numpy as np


def make_sequences(n=60, length=12, channels=3, classes=3, variable=False, seed=0):
    """Class k is a noisy sine of frequency k+1 on every channel (plus a per-channel offset).

    Returns (list of (length_i, channels) float32 arrays, int labels). With `variable`, lengths are 4..length.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    seqs = []
    for k in labels:
        steps = int(rng.integers(4, length + 1)) if variable else length
        t = np.arange(steps)[:, None]
        phase = rng.uniform(0, 2 * np.pi)
        s = np.sin(2 * np.pi * (k + 1) * t / length + phase) + 0.1 * rng.normal(size=(steps, channels))
        seqs.append((s + np.arange(channels) * 2.0).astype(np.float32))
    return seqs, labels


def regression_targets(seqs):
    """A smooth target per sequence: mean of channel 0 plus its last value (learnable in a few epochs)."""
    return np.array([s[:, 0].mean() + s[-1, 0] for s in seqs], np.float32)


def write_npz(path, seqs, labels, padded=True, test=None):
    """Padded x + lengths (or an object array with padded=False); test = (seqs, labels) adds a test split."""
    def arrays(seqs, suffix):
        if padded:
            lengths = np.array([len(s) for s in seqs], np.int32)
            x = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]), np.float32)
            for i, s in enumerate(seqs):
                x[i, : len(s)] = s
            return {f"x{suffix}": x, f"lengths{suffix}": lengths}
        x = np.empty(len(seqs), dtype=object)
        for i, s in enumerate(seqs):
            x[i] = s
        return {f"x{suffix}": x}

    data = {**arrays(seqs, ""), "y": np.asarray(labels)}
    if test is not None:
        data.update(arrays(test[0], "_test"), y_test=np.asarray(test[1]))
    np.savez(path, **data)
    return path


def write_csv(path, seqs, labels, splits=None):
    """Long format: sequence_id,label[,split],ch0,ch1,... one row per time step."""
    channels = seqs[0].shape[1]
    header = ["sequence_id", "label"] + (["split"] if splits is not None else []) + [f"ch{c}" for c in range(channels)]
    lines = [",".join(header)]
    for i, (s, y) in enumerate(zip(seqs, labels)):
        for frame in s:
            cells = [f"s{i}", str(y)] + ([splits[i]] if splits is not None else []) + [repr(float(v)) for v in frame]
            lines.append(",".join(cells))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
