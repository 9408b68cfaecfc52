"""Data sets: the bundled ones (shipped inside sktime, no network) and user files (CSV / NPZ).

Everything is turned into the same shape: a list of float32 arrays `(length_i, channels)` per split,
plus targets (int64 class ids, or float32 `(n, k)` regression targets). The formats of user files are
described in docs/data-formats.md and in `python host/train.py --help`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

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


def load_user_file(path: str, group_column: str | None = None):
    """Raw (train sequences, train labels, test sequences or None, test labels or None, groups or None).

    Groups (a subject or session per training sequence: the CSV's --group-column, or the NPZ's `groups`) make
    the automatic test split hold out whole groups, so no subject is in both splits."""
    if not os.path.exists(path):
        raise UserError(f"data file '{path}' does not exist", "check the path given to --data")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise UserError(f"data file '{path}' is not a readable file", "check the path and its permissions")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        if group_column:
            raise UserError("--group-column is for CSV files", "store the groups of an NPZ as an array 'groups'")
        return _load_npz(path)
    if ext == ".csv":
        return _load_csv(path, group_column)
    raise UserError(f"data file '{path}' has an unknown extension '{ext}'",
                    "use a .csv or .npz file in the formats described by --help / docs/data-formats.md")


def _npz_sequences(z, x_key: str, len_key: str) -> list[np.ndarray]:
    x = z[x_key]
    if x.dtype == object:  # one array per sequence
        seqs = []
        for i, s in enumerate(x):
            s = np.asarray(s)
            if s.ndim == 1:  # a single-channel sequence given as (length,)
                s = s[:, None]
            if s.ndim != 2:
                raise UserError(f"'{x_key}[{i}]' has shape {s.shape}, expected (length, channels)",
                                "store each sequence as a 2-D array (length, channels)")
            seqs.append(_as_float32(s, f"{x_key}[{i}]"))
        if len_key in z.files:
            raise UserError(f"'{len_key}' given with an object array '{x_key}'",
                            f"drop '{len_key}': the lengths of an object array are the arrays' own")
        return seqs
    if x.ndim == 2:  # (n, length): single channel
        x = x[:, :, None]
    if x.ndim != 3:
        raise UserError(f"'{x_key}' has shape {x.shape}, expected (n, length, channels)",
                        "store a padded 3-D array (n, max_len, channels) plus 'lengths', or an object array")
    x = _as_float32(x, x_key)
    if len_key in z.files:
        lengths = np.asarray(z[len_key])
        if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise UserError(f"'{len_key}' has shape {lengths.shape} and dtype {lengths.dtype}",
                            f"'{len_key}' must be an integer array with one entry per sequence ({x.shape[0]})")
        if lengths.size and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise UserError(f"'{len_key}' has values outside 1..{x.shape[1]}",
                            "every sequence needs at least 1 step and at most the padded length")
    else:
        lengths = np.full(x.shape[0], x.shape[1])
    return [x[i, : lengths[i]] for i in range(x.shape[0])]


def _load_npz(path: str):
    try:
        # Object arrays (one array per sequence) need pickle: only load files you trust.
        z = np.load(path, allow_pickle=True)
        files = set(z.files)
    except Exception as exc:
        raise UserError(f"cannot read '{path}' as NPZ ({type(exc).__name__}: {exc})",
                        "write it with numpy.savez(path, x=..., y=...)") from None
    for key in ("x", "y"):
        if key not in files:
            raise UserError(f"'{path}' has no array '{key}' (it has: {', '.join(sorted(files)) or 'none'})",
                            "store the sequences as 'x' and the labels/targets as 'y'")
    x_train, y_train = _npz_sequences(z, "x", "lengths"), np.asarray(z["y"])
    if ("x_test" in files) != ("y_test" in files):
        raise UserError(f"'{path}' has only one of 'x_test' and 'y_test'", "give both or neither")
    groups = None
    if "groups" in files:
        groups = np.asarray(z["groups"])
        if groups.shape != (len(x_train),):
            raise UserError(f"'groups' in '{path}' has shape {groups.shape}",
                            f"give one group (subject, session) per training sequence: shape ({len(x_train)},)")
    if "x_test" in files:
        return x_train, y_train, _npz_sequences(z, "x_test", "lengths_test"), np.asarray(z["y_test"]), groups
    return x_train, y_train, None, None, groups


def _load_csv(path: str, group_column: str | None = None):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise UserError(f"cannot read '{path}' as CSV ({type(exc).__name__}: {exc})",
                        "use a header row: sequence_id,label,<channel columns...>") from None
    missing = [c for c in ("sequence_id", "label") if c not in df.columns]
    if missing and len(df.columns) == 1 and any(sep in str(df.columns[0]) for sep in (";", "\t", "|")):
        sep = next(sep for sep in (";", "\t", "|") if sep in str(df.columns[0]))
        raise UserError(f"'{path}' separates its values with {sep!r}, not commas",
                        "save it as comma-separated CSV (sequence_id,label,<channels...>)")
    if missing:
        raise UserError(f"'{path}' has no column {', '.join(missing)} (columns: {', '.join(map(str, df.columns))})",
                        "the header must be sequence_id,label[,split],<channel columns...>")
    if group_column is not None and group_column not in df.columns:
        raise UserError(f"'{path}' has no column {group_column!r} (--group-column)",
                        f"use one of: {', '.join(map(str, df.columns))}")
    channels = [c for c in df.columns if c not in ("sequence_id", "label", "split", group_column)]
    if not channels:
        raise UserError(f"'{path}' has no channel columns", "add at least one numeric column after label")
    if df.empty:
        raise UserError(f"'{path}' has no data rows", "add one row per time step of each sequence")
    values = df[channels]
    not_numeric = [c for c in channels if not pd.api.types.is_numeric_dtype(values[c])]
    if not_numeric:
        column = values[not_numeric[0]]
        bad = column.notna() & pd.to_numeric(column, errors="coerce").isna()
        row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
        raise UserError(f"channel column(s) {', '.join(map(str, not_numeric))} in '{path}' are not numeric "
                        f"(line {row + 2}: {not_numeric[0]} = {column.iloc[row]!r})",
                        "channel values must be numbers (use a dot as decimal separator)")
    empty = values.isna().to_numpy()
    if empty.any():
        row, col = map(int, np.argwhere(empty)[0])
        raise UserError(f"line {row + 2} of '{path}' has no value for channel {channels[col]} "
                        f"(a short row or an empty cell)", "give every row a value for every channel")
    if df["label"].isna().any():
        raise UserError(f"'{path}' has rows with an empty label", "give every row its sequence's label")
    has_split = "split" in df.columns
    if has_split:
        bad = sorted(set(df["split"].astype(str)) - {"train", "test"})
        if bad:
            raise UserError(f"column 'split' in '{path}' has values {bad}", "use only 'train' and 'test'")

    out = {"train": ([], [], []), "test": ([], [], [])}
    data = values.to_numpy(dtype=np.float64)
    # Rows of one sequence are its time steps in file order; sequences keep the order they first appear in.
    for seq_id, rows in df.groupby("sequence_id", sort=False).indices.items():
        labels = df["label"].iloc[rows]
        if labels.nunique() != 1:
            raise UserError(f"sequence '{seq_id}' in '{path}' has {labels.nunique()} different labels",
                            "every row of a sequence must carry the same label")
        split = "train"
        if has_split:
            splits = df["split"].iloc[rows].astype(str)
            if splits.nunique() != 1:
                raise UserError(f"sequence '{seq_id}' in '{path}' is in both splits",
                                "give every row of a sequence the same split")
            split = splits.iloc[0]
        out[split][0].append(_as_float32(data[rows], f"sequence '{seq_id}'"))
        out[split][1].append(labels.iloc[0])
        if group_column is not None:
            group = df[group_column].iloc[rows]
            if group.nunique(dropna=False) != 1:
                raise UserError(f"sequence '{seq_id}' in '{path}' has {group.nunique(dropna=False)} values in "
                                f"{group_column!r}", "a sequence belongs to one group (subject, session)")
            out[split][2].append(str(group.iloc[0]))
    x_tr, y_tr, g_tr = out["train"]
    groups = np.asarray(g_tr) if group_column is not None else None
    if not has_split:
        return x_tr, np.asarray(y_tr), None, None, groups
    return x_tr, np.asarray(y_tr), out["test"][0], np.asarray(out["test"][1]), groups


def _as_float32(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise UserError(f"{what} has dtype {a.dtype}, not real numbers", "store the sequences as float arrays")
    return a.astype(np.float32)


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
        raise UserError(f"test labels {unseen[:5]} never occur in the training data",
                        "make sure every class has training sequences")
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[v] for v in train_names], np.int64), np.array([index[v] for v in test_names], np.int64)


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
                 group_column: str | None = None) -> Dataset:
    """Load a bundled set (`name`) or a user file (`path`), check it, encode labels and shorten sequences."""
    groups = None
    if path is not None:
        x_tr, y_tr, x_te, y_te, groups = load_user_file(path, group_column)
        display = f"file:{os.path.basename(path)}"
    else:
        if group_column:
            raise UserError("--group-column applies to --data CSV files", "drop it for a bundled data set")
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
    ds = Dataset(display, task, Split(x_tr, t_tr), Split(x_te, t_te), classes)
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
