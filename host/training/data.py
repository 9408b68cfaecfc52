"""Data sets: the bundled ones (shipped inside sktime, no network) and user files (CSV / NPZ).

Everything is turned into the same shape: a list of float32 arrays `(length_i, channels)` per split,
plus targets (int64 class ids, or float32 `(n, k)` regression targets). The formats of user files are
described in docs/data-formats.md and in `python host/train.py --help`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from tinyrnn.host.formats.sequences import SequenceFile, read_sequence_file
from tinyrnn.quantize.errors import UserError

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass
class Split:
    sequences: list[np.ndarray]  # each (length, channels) float32, raw (not normalised)
    targets: np.ndarray  # (n,) int64 class ids, or (n, k) float32

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int32)


@dataclass
class Dataset:
    name: str  # bundled name, or "file:<file name>"
    task: str  # CLASSIFICATION or REGRESSION
    train: Split
    test: Split
    classes: list[str] | None = None  # class names, index = class id
    channels: list[str] | None = None  # the input channels' names (a CSV's columns), in the model's order
    notes: list[str] = field(default_factory=list)  # preprocessing applied, for the report

    @property
    def input_dim(self) -> int:
        return self.train.sequences[0].shape[1]

    @property
    def output_dim(self) -> int:
        if self.task == CLASSIFICATION:
            return len(self.classes)
        return self.train.targets.shape[1]

    @property
    def max_len(self) -> int:
        return int(max(self.train.lengths.max(), self.test.lengths.max()))


# --------------------------------------------------------------------------------------------
# Bundled data sets


@dataclass(frozen=True)
class Bundled:
    """A data set shipped inside sktime, with training defaults that reliably work for it."""

    loader: str  # function name in sktime.datasets
    return_type: str  # "numpy3D" for equal-length sets, "df-list" for variable length
    summary: str
    epochs: int
    batch_size: int
    learning_rate: float
    downsample: int = 1  # default block-averaging factor (long sequences)


BUNDLED: dict[str, Bundled] = {
    "basic_motions": Bundled("load_basic_motions", "numpy3D",
                             "smartwatch IMU, 6 channels, 4 activities, length 100, 40/40", 60, 8, 0.01),
    "japanese_vowels": Bundled("load_japanese_vowels", "df-list",
                               "LPC frames, 12 channels, 9 speakers, length 7-29, 270/370", 30, 16, 0.01),
    "italy_power_demand": Bundled("load_italy_power_demand", "numpy3D",
                                  "daily power demand, 1 channel, 2 classes, length 24, 67/1029", 30, 8, 0.01),
    "plaid": Bundled("load_plaid", "df-list",
                     "appliance current, 1 channel, 11 classes, length 100-1344, 537/537", 30, 16, 0.01,
                     downsample=8),
}


def _sequences_from_sktime(X, return_type: str) -> list[np.ndarray]:
    if return_type == "numpy3D":  # (n, channels, length)
        return [np.ascontiguousarray(s.T, dtype=np.float32) for s in X]
    return [np.asarray(df.to_numpy(), dtype=np.float32) for df in X]  # list of (length, channels) frames


def load_bundled(name: str) -> tuple[list, np.ndarray, list, np.ndarray]:
    """Raw (sequences, labels) for the train and test splits of a bundled data set."""
    if name not in BUNDLED:
        raise UserError(f"unknown data set '{name}'",
                        f"use one of: {', '.join(BUNDLED)} (or --data FILE for your own data)")
    spec = BUNDLED[name]
    import sktime.datasets  # slow import: only when needed

    loader = getattr(sktime.datasets, spec.loader)
    parts = []
    for split in ("train", "test"):
        X, y = loader(split=split, return_type=spec.return_type)
        parts += [_sequences_from_sktime(X, spec.return_type), np.asarray(y)]
    return tuple(parts)


# --------------------------------------------------------------------------------------------
# User files


def load_user_file(path: str, group_column: str | None = None, channels: list[str] | None = None):
    """Raw (train sequences, train labels, test sequences or None, test labels or None, groups or None, channel
    names or None). `channels`: the CSV columns to take as inputs, in this order (default: every channel column).

    Groups (a subject or session per training sequence: the CSV's --group-column, or the NPZ's `groups`) make
    the automatic test split hold out whole groups, so no subject is in both splits. The file is read by
    host/formats/sequences.py; training's policy is applied here: every sequence needs a label, and CSV labels
    are typed by the whole column (integers, booleans or text: classes; other numbers: regression targets)."""
    if not os.path.exists(path):
        raise UserError(f"data file '{path}' does not exist", "check the path given to --data")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise UserError(f"data file '{path}' is not a readable file", "check the path and its permissions")
    if group_column and os.path.splitext(path)[1].lower() == ".npz":
        raise UserError("--group-column is for CSV files", "store the groups of an NPZ as an array 'groups'")
    file = read_sequence_file(path, group_column)
    names = None if file.kind != "csv" else list(file.channels)
    if channels:
        if names is None:
            raise UserError("--channels names CSV columns", "an NPZ's channels are its arrays' last axis: store "
                            "only the ones to train on")
        file = _select_channels(file, names, channels)
        names = list(channels)
    labels = _required_labels(file)
    train, test = file.indices("train"), file.indices("test")
    groups = None
    if file.groups is not None:
        groups = np.asarray([file.groups[i] for i in train])
    x_tr, y_tr = [file.sequences[i] for i in train], np.asarray([labels[i] for i in train])
    if file.splits is None or not test:     # a split column without test sequences (`tinyrnn record`'s default)
        return x_tr, y_tr, None, None, groups, names
    return x_tr, y_tr, [file.sequences[i] for i in test], np.asarray([labels[i] for i in test]), groups, names


def _select_channels(file: SequenceFile, names: list[str], wanted: list[str]) -> SequenceFile:
    unknown = [c for c in wanted if c not in names]
    if unknown or len(set(wanted)) != len(wanted):
        what = f"no column {', '.join(unknown)}" if unknown else "a column named twice"
        raise UserError(f"--channels {','.join(wanted)}: {what} in '{file.path}'",
                        f"name channel columns of the file: {', '.join(names)}")
    order = [names.index(c) for c in wanted]
    return dataclasses.replace(file, sequences=[s[:, order] for s in file.sequences], channels=list(wanted))


def _required_labels(file: SequenceFile) -> list:
    """One label per sequence, typed: training cannot use an unlabelled sequence."""
    if file.kind == "npz":
        if "train" not in file.labelled:
            raise UserError(f"'{file.path}' has no array 'y' (it has: {', '.join(file.columns)})",
                            "store the sequences as 'x' and the labels/targets as 'y'")
        if file.splits is not None and "test" not in file.labelled:
            raise UserError(f"'{file.path}' has only one of 'x_test' and 'y_test'", "give both or neither")
        return file.labels
    if file.labels is None:
        raise UserError(f"'{file.path}' has no column label (columns: {', '.join(file.columns)})",
                        "the header must be sequence_id,label[,split],<channel columns...>")
    if any(text in _MISSING_LABELS for text in file.labels):
        raise UserError(f"'{file.path}' has rows with an empty label", "give every row its sequence's label")
    return _typed(file.labels)


# Cells a CSV reader commonly takes for "no value" (pandas' defaults): as a label they are missing, not a class.
_MISSING_LABELS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
_TRUE, _FALSE = {"True", "TRUE", "true"}, {"False", "FALSE", "false"}


def _typed(texts: list[str]) -> list:
    """The label column's values typed as one column: all integers -> int64, all true/false -> bool, all
    numbers -> float64 (regression), else the text (classes)."""
    if all(re.fullmatch(r"[+-]?\d+", t) for t in texts):
        return list(np.asarray([int(t) for t in texts], dtype=np.int64))
    if all(t in _TRUE or t in _FALSE for t in texts):
        return [np.bool_(t in _TRUE) for t in texts]
    try:
        if not any("_" in t for t in texts):
            return list(np.asarray([float(t) for t in texts], dtype=np.float64))
    except ValueError:
        pass
    return texts


# --------------------------------------------------------------------------------------------
# Checks, labels, splits


def check_sequences(seqs: list, labels: np.ndarray, split: str) -> None:
    """Raise UserError for anything training cannot use: counts, shapes, NaN/inf, empty sequences."""
    if len(seqs) == 0:
        raise UserError(f"the {split} split has no sequences", "give at least 2 sequences per class")
    if labels.ndim == 0 or labels.shape[0] != len(seqs):
        n_labels = 0 if labels.ndim == 0 else labels.shape[0]
        raise UserError(f"the {split} split has {len(seqs)} sequences but {n_labels} labels",
                        "give exactly one label (or target row) per sequence")
    if labels.ndim > 2:
        raise UserError(f"the {split} labels have shape {labels.shape}",
                        "labels must be (n,) class labels or (n, k) regression targets")
    channels = seqs[0].shape[1] if seqs[0].ndim == 2 else None
    for i, s in enumerate(seqs):
        if s.ndim != 2:
            raise UserError(f"{split} sequence {i} has shape {s.shape}", "each sequence must be (length, channels)")
        if s.shape[0] < 1:
            raise UserError(f"{split} sequence {i} is empty (0 steps)", "every sequence needs at least 1 step")
        if s.shape[1] != channels:
            raise UserError(f"{split} sequence {i} has {s.shape[1]} channels, sequence 0 has {channels}",
                            "all sequences need the same channels")
        if not np.isfinite(s).all():
            raise UserError(f"{split} sequence {i} contains NaN or inf", "clean or interpolate missing values first")
    if channels == 0:
        raise UserError(f"the {split} sequences have 0 channels", "give at least one channel")
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise UserError(f"the {split} targets contain NaN or inf", "drop or fix those sequences")


def infer_task(labels: np.ndarray) -> str:
    """Float targets mean regression; integers, strings and booleans mean classes."""
    return REGRESSION if labels.dtype.kind == "f" else CLASSIFICATION


def _class_sort_key(name: str):
    try:
        return (0, float(name), name)  # "2" before "10"
    except ValueError:
        return (1, 0.0, name)


def encode_labels(train_labels, test_labels) -> tuple[list[str], np.ndarray, np.ndarray]:
    if train_labels.ndim != 1 or test_labels.ndim != 1:
        raise UserError("class labels must be one per sequence, got a 2-D label array",
                        "give 1-D labels, or use --task regression for multi-output targets")
    train_names = np.array([str(v) for v in train_labels])
    test_names = np.array([str(v) for v in test_labels])
    classes = sorted(set(train_names), key=_class_sort_key)
    if len(classes) < 2:
        raise UserError(f"the training data has a single class ({classes[0]!r})",
                        "classification needs at least 2 classes (or use --task regression for numeric targets)")
    unseen = sorted(set(test_names) - set(classes), key=_class_sort_key)
    if unseen:
        shown = ", ".join(repr(str(v)) for v in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise UserError(f"test labels {shown} never occur in the training data",
                        "make sure every class has training sequences")
    index = {c: i for i, c in enumerate(classes)}
    return (classes, np.array([index[v] for v in train_names], np.int64),
            np.array([index[v] for v in test_names], np.int64))


def encode_targets(labels: np.ndarray, split: str) -> np.ndarray:
    try:
        y = labels.astype(np.float32)
    except (TypeError, ValueError):
        raise UserError(f"the {split} targets are not numbers (dtype {labels.dtype})",
                        "regression needs numeric targets; use --task classification for class labels") from None
    if not np.isfinite(y).all():
        raise UserError(f"the {split} targets contain NaN or inf", "drop or fix those sequences")
    return y.reshape(len(y), -1)


def split_train_test(seqs: list, labels: np.ndarray, test_fraction: float, seed: int, stratify: bool,
                     groups: np.ndarray | None = None):
    """A seeded split (scikit-learn) for user files that bring no test split: whole groups held out when the
    sequences have groups (subjects, sessions), else stratified by class for classification."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    n = len(seqs)
    index = np.arange(n)
    try:
        if groups is not None:
            if len(set(groups.tolist())) < 2:
                raise ValueError("a single group")
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
            train_idx, test_idx = next(splitter.split(index, groups=groups))
        else:
            keys = np.array([str(v) for v in labels]) if stratify else None
            train_idx, test_idx = train_test_split(index, test_size=test_fraction, random_state=seed,
                                                   stratify=keys)
    except ValueError as exc:
        how = "by group" if groups is not None else ("stratified by class" if stratify else "at random")
        raise UserError(f"cannot split {n} sequences into train and test {how} with --test-fraction "
                        f"{test_fraction} ({exc})",
                        "give more sequences (groups), a 'split' column / x_test+y_test, or another --test-fraction"
                        ) from None
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return ([seqs[i] for i in train_idx], labels[train_idx], [seqs[i] for i in test_idx], labels[test_idx])


# --------------------------------------------------------------------------------------------
# Preprocessing: shorten long sequences


def downsample(seq: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping blocks of `factor` frames (the last block may be shorter)."""
    if factor <= 1:
        return seq
    n_blocks = math.ceil(len(seq) / factor)
    padded = np.zeros((n_blocks * factor, seq.shape[1]), np.float32)
    padded[: len(seq)] = seq
    counts = np.full(n_blocks, factor, np.float32)
    counts[-1] = len(seq) - (n_blocks - 1) * factor
    return (padded.reshape(n_blocks, factor, -1).sum(axis=1) / counts[:, None]).astype(np.float32)


def shorten(split: Split, factor: int, max_len: int | None) -> Split:
    seqs = [downsample(s, factor) for s in split.sequences]
    if max_len:
        seqs = [s[:max_len] for s in seqs]  # keep the beginning
    return Split(seqs, split.targets)


# --------------------------------------------------------------------------------------------
# Putting it together


def load_dataset(name: str | None, path: str | None, *, task: str | None = None, test_fraction: float = 0.25,
                 seed: int = 0, downsample_factor: int | None = None, max_len: int | None = None,
                 group_column: str | None = None, channels: list[str] | None = None) -> Dataset:
    """Load a bundled set (`name`) or a user file (`path`), check it, encode labels and shorten sequences."""
    groups = names = None
    if path is not None:
        x_tr, y_tr, x_te, y_te, groups, names = load_user_file(path, group_column, channels)
        display = f"file:{os.path.basename(path)}"
    else:
        if group_column:
            raise UserError("--group-column applies to --data CSV files", "drop it for a bundled data set")
        if channels:
            raise UserError("--channels applies to --data CSV files", "drop it for a bundled data set")
        x_tr, y_tr, x_te, y_te = load_bundled(name)
        display = name
    check_sequences(x_tr, y_tr, "training")
    task = task or infer_task(y_tr)
    group_note = None
    if x_te is None:
        if groups is not None:
            held_out = len(set(groups.tolist()))
            x_split = split_train_test(x_tr, y_tr, test_fraction, seed, task == CLASSIFICATION, groups)
            group_note = (f"test split by group: {len(x_split[2])} sequences of the {held_out} groups held out "
                          "whole (no group in both splits)")
            x_tr, y_tr, x_te, y_te = x_split
        else:
            x_tr, y_tr, x_te, y_te = split_train_test(x_tr, y_tr, test_fraction, seed, task == CLASSIFICATION)
    check_sequences(x_te, y_te, "test")
    if x_te[0].shape[1] != x_tr[0].shape[1]:
        raise UserError(f"test sequences have {x_te[0].shape[1]} channels, training ones {x_tr[0].shape[1]}",
                        "both splits need the same channels")

    classes = None
    if task == CLASSIFICATION:
        classes, t_tr, t_te = encode_labels(y_tr, y_te)
    else:
        t_tr, t_te = encode_targets(y_tr, "training"), encode_targets(y_te, "test")
        if t_tr.shape[1] != t_te.shape[1]:
            raise UserError(f"training targets have {t_tr.shape[1]} columns, test targets {t_te.shape[1]}",
                            "both splits need the same number of targets")
    ds = Dataset(display, task, Split(x_tr, t_tr), Split(x_te, t_te), classes, channels=names)
    if group_note:
        ds.notes.append(group_note)

    factor = downsample_factor if downsample_factor is not None else (BUNDLED[name].downsample if path is None else 1)
    if factor > 1 or max_len:
        ds.train, ds.test = shorten(ds.train, factor, max_len), shorten(ds.test, factor, max_len)
        if factor > 1:
            ds.notes.append(f"sequences averaged over blocks of {factor} frames (--downsample {factor})")
        if max_len:
            ds.notes.append(f"sequences truncated to their first {max_len} steps (--max-len {max_len})")
    return ds


# --------------------------------------------------------------------------------------------
# Normalisation and padding


def channel_norm(train: Split) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean/std over every real frame of the training split (std 1 for constant channels)."""
    frames = np.concatenate(train.sequences, axis=0).astype(np.float64)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    std = np.where(std < 1e-6 * np.maximum(1.0, np.abs(mean)), 1.0, std)  # constant channel: only shift it
    return mean.astype(np.float32), std.astype(np.float32)


FLATTEN_RATIO = 1e-3   # a channel whose typical spread is under this many stds is useless after normalisation


def flattened_channels(train: Split, mean: np.ndarray, std: np.ndarray) -> list[str]:
    """One warning per channel whose normalisation a few extreme values have flattened: the std they inflate
    squeezes the central 98% of the frames into less than FLATTEN_RATIO standard deviations, so the model sees a
    constant there (e.g. a single 1e30 in a CSV). Each names the channel, the extreme values and the typical range."""
    frames = np.concatenate(train.sequences, axis=0).astype(np.float64)
    low, high = np.percentile(frames, [1, 99], axis=0)
    out = []
    for c in range(frames.shape[1]):
        if high[c] == low[c] or (high[c] - low[c]) / float(std[c]) >= FLATTEN_RATIO:
            continue
        centre = np.median(frames[:, c])
        extreme = np.abs(frames[:, c] - centre) > 1e3 * (high[c] - low[c])
        values = ", ".join(f"{v:g}" for v in np.unique(frames[extreme, c])[:3])
        out.append(f"channel {c}: {int(extreme.sum())} extreme value(s) ({values}) against a typical range "
                   f"[{low[c]:.4g}, {high[c]:.4g}] set its std to {float(std[c]):.3g}: after normalisation the "
                   "channel is nearly constant (useless to the model) — fix or drop those values")
    return out


def target_norm(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = targets.mean(axis=0), targets.std(axis=0)
    return mean.astype(np.float32), np.where(std < 1e-12, 1.0, std).astype(np.float32)


def pad(sequences: list[np.ndarray], max_len: int, value: float = 0.0) -> np.ndarray:
    """(n, max_len, channels) float32; frames past each sequence's length are `value`."""
    out = np.full((len(sequences), max_len, sequences[0].shape[1]), value, np.float32)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
    return out


def normalise_padded(x: np.ndarray, lengths: np.ndarray, mean, std, pad_value: float = 0.0) -> np.ndarray:
    """Normalise the real frames of a padded batch; padding becomes `pad_value`."""
    real = np.arange(x.shape[1])[None, :] < lengths[:, None]
    return np.where(real[..., None], (x - mean) / std, np.float32(pad_value)).astype(np.float32)
