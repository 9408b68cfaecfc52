"""The one reader of the documented sequence files (docs/data-formats.md): CSV in long format and NPZ arrays.

It reads what a file says and checks what the format says (columns, shapes, numbers, one label / split / group
per sequence); what a caller needs beyond that (labels required or optional, which split is used, how labels
are typed) is the caller's policy: host/training/data.py for training, host/check/recordings.py for recordings.
Standard library and numpy only, so the base install reads these files.

  CSV  a header with `sequence_id`, optional `label`, `split` and group column; every other column a channel
  NPZ  `x` (padded with `lengths`, or an object array of (length, channels)), optional `y` and `groups`;
       `x_test` / `y_test` (`lengths_test`) follow `x`
"""
from __future__ import annotations

import csv
import io
import math
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyrnn.host.formats.numbers import parse_number
from tinyrnn.quantize.errors import UserError

FORMATS_DOC = "docs/data-formats.md"
ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN = "sequence_id", "label", "split"
SPLITS = ("train", "test")
_SEPARATORS = (";", "\t", "|")
# (sequences, labels, lengths) arrays of an NPZ, in the order their sequences are read.
_NPZ_PARTS = (("x", "y", "lengths", "train"), ("x_test", "y_test", "lengths_test", "test"))
FLOAT32_MAX = float(np.finfo(np.float32).max)    # a finite float64 above this is inf as float32


@dataclass(frozen=True)
class SequenceFile:
    """Everything a sequence file holds, one entry per sequence in file order (an NPZ: `x`, then `x_test`)."""
    path: Path
    kind: str                       # "csv" or "npz"
    ids: list[str]                  # CSV sequence_id; NPZ "x[i]" / "x_test[i]"
    sequences: list[np.ndarray]     # float32 (length, channels), finite, raw (not normalised)
    labels: list | None             # None: the file has no labels; CSV: the cell text ("" = empty); NPZ: the
                                    # `y` / `y_test` entry, None where that part has no labels
    labelled: frozenset[str]        # the splits whose labels the file gives (CSV: a label column gives both)
    splits: list[str] | None        # "train" / "test" per sequence; None: the file names no split
    groups: list | None             # the group (subject, session) per sequence; None: no groups;
                                    # NPZ `groups` covers `x` only (None for `x_test` sequences)
    columns: list[str]              # CSV header; NPZ the names of its arrays, sorted
    channels: list[str] | None      # CSV channel column names; None for NPZ

    def __len__(self) -> int:
        return len(self.sequences)

    def indices(self, split: str) -> list[int]:
        """The sequences of one split (all are "train" when the file names no split)."""
        if self.splits is None:
            return list(range(len(self))) if split == "train" else []
        return [i for i, s in enumerate(self.splits) if s == split]


def read_sequence_file(path, group_column: str | None = None) -> SequenceFile:
    """Read a .csv or .npz sequence file; `group_column` names the CSV column holding each sequence's group (it
    is not a channel). Anything the format does not allow is a UserError."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".csv":
        return _read_csv(path, group_column)
    if ext == ".npz":
        return _read_npz(path)
    raise UserError(f"'{path}' has the extension '{ext}', not .csv or .npz",
                    f"use a .csv or .npz file in the formats of {FORMATS_DOC}")


# ---- CSV ---------------------------------------------------------------------------------------------

def _read_csv(path: Path, group_column: str | None) -> SequenceFile:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read '{path}' as CSV ({type(e).__name__}: {e})",
                        "save it as UTF-8 comma-separated text with a header row") from None
    if not rows:
        raise UserError(f"'{path}' is empty", "the first row is the header: sequence_id,label,<channels...>")
    header = [h.strip() for h in rows[0]]
    if len(header) == 1 and any(sep in header[0] for sep in _SEPARATORS):
        sep = next(sep for sep in _SEPARATORS if sep in header[0])
        raise UserError(f"'{path}' separates its values with {sep!r}, not commas",
                        "save it as comma-separated CSV (sequence_id,label,<channels...>)")
    if ID_COLUMN not in header:
        raise UserError(f"'{path}' has no column {ID_COLUMN} (columns: {', '.join(header)})",
                        "the header must be sequence_id[,label][,split],<channel columns...>")
    if group_column is not None and group_column not in header:
        raise UserError(f"'{path}' has no column {group_column!r} (--group-column)",
                        f"use one of: {', '.join(header)}")
    named = {ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN, group_column}
    channels = [i for i, h in enumerate(header) if h not in named]
    if not channels:
        raise UserError(f"'{path}' has no channel columns", "add one numeric column per sensor channel")
    column: dict[str, int | None] = {name: header.index(name) if name in header else None
                                     for name in (ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN, group_column)
                                     if name is not None}
    id_column = header.index(ID_COLUMN)
    frames: dict[str, list] = {}
    # column -> sequence id -> value
    per_sequence: dict[str, dict[str, str]] = {name: {} for name in column if name != ID_COLUMN}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue                                    # a blank line
        if len(row) > len(header):
            raise UserError(f"'{path}' line {line} has {len(row)} cells, the header {len(header)}",
                            "every row needs one value per column, no more")
        row = row + [""] * (len(header) - len(row))     # a short row: its missing cells are empty
        key = row[id_column].strip()
        frames.setdefault(key, []).append(_frame(path, line, row, header, channels))
        for name, values in per_sequence.items():
            index = column[name]
            if index is not None:
                _same_per_sequence(path, line, key, name, row[index].strip(), values)
    if not frames:
        raise UserError(f"'{path}' has no data rows", "add one row per time step of each sequence")

    ids = list(frames)
    labels = per_sequence[LABEL_COLUMN]
    splits = per_sequence[SPLIT_COLUMN]
    if column[SPLIT_COLUMN] is not None:
        bad = sorted(set(splits.values()) - set(SPLITS))
        if bad:
            raise UserError(f"column 'split' in '{path}' has values {bad}", "use only 'train' and 'test'")
    groups = per_sequence.get(group_column) if group_column else None
    return SequenceFile(
        path=path, kind="csv", ids=ids,
        sequences=[np.asarray(frames[k], dtype=np.float64).astype(np.float32) for k in ids],
        labels=[labels[k] for k in ids] if column[LABEL_COLUMN] is not None else None,
        labelled=frozenset(SPLITS if column[LABEL_COLUMN] is not None else ()),
        splits=[splits[k] for k in ids] if column[SPLIT_COLUMN] is not None else None,
        groups=[groups[k] for k in ids] if groups is not None else None,
        columns=header, channels=[header[i] for i in channels])


def _frame(path: Path, line: int, row: list[str], header: list[str], channels: list[int]) -> list[float]:
    """One row's channel values, as numbers."""
    values = []
    for i in channels:
        text = row[i].strip()
        if not text:
            raise UserError(f"line {line} of '{path}' has no value for channel {header[i]} "
                            f"(a short row or an empty cell)", "give every row a value for every channel")
        value = parse_number(text)
        if value is None:
            raise UserError(f"'{path}' line {line}: {text!r} is not a number (channel {header[i]} is not numeric)",
                            "channel values are numbers with a dot as decimal separator")
        if not math.isfinite(value):
            raise UserError(f"'{path}' line {line} holds NaN or inf (channel {header[i]})",
                            "record finite values only (clean or interpolate missing values first)")
        if abs(value) > FLOAT32_MAX:       # finite here, inf once stored as float32
            raise UserError(f"'{path}' line {line} holds {text} (channel {header[i]}), beyond float32's range "
                            f"(±{FLOAT32_MAX:.1e})", "record values in the sensor's units (a value this large is a "
                            "corrupt cell)")
        values.append(value)
    return values


def _same_per_sequence(path: Path, line: int, key: str, column: str, value: str, seen: dict) -> None:
    """A label, split or group is one per sequence: every row of the sequence repeats it."""
    first = seen.setdefault(key, value)
    if first == value:
        return
    if column == LABEL_COLUMN:
        raise UserError(f"'{path}' line {line}: sequence {key!r} has different labels ({first!r}, then {value!r})",
                        "every row of a sequence must carry the same label")
    if column == SPLIT_COLUMN:
        raise UserError(f"sequence {key!r} in '{path}' is in both splits (line {line})",
                        "give every row of a sequence the same split")
    raise UserError(f"sequence {key!r} in '{path}' has more than one value in {column!r} (line {line})",
                    "a sequence belongs to one group (subject, session)")


# ---- NPZ ---------------------------------------------------------------------------------------------

def _read_npz(path: Path) -> SequenceFile:
    # np.load takes any pickle or .npy too: only a zip of arrays is an NPZ (and a pickle is never run as one)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise UserError(f"cannot read '{path}' as NPZ (not a zip archive of arrays: a .npy, a pickle or damaged)",
                        "write it with numpy.savez(path, x=..., y=...)")
    try:
        # Object arrays (one array per sequence) are pickled by numpy: only load files you trust.
        z = np.load(str(path), allow_pickle=True)
        files = set(z.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
        raise UserError(f"cannot read '{path}' as NPZ ({type(e).__name__}: {e})",
                        "write it with numpy.savez(path, x=..., y=...)") from None
    if "x" not in files:
        raise UserError(f"'{path}' has no array 'x' (it has: {', '.join(sorted(files)) or 'none'})",
                        "store the sequences as 'x' and the labels/targets as 'y'")
    if "y_test" in files and "x_test" not in files:
        raise UserError(f"'{path}' has only one of 'x_test' and 'y_test'", "give both or neither")
    ids: list[str] = []
    sequences: list[np.ndarray] = []
    labels: list = []
    splits: list[str] = []
    labelled: set[str] = set()
    for x_key, y_key, len_key, split in _NPZ_PARTS:
        if x_key not in files:
            continue
        part = _npz_sequences(path, z, x_key, len_key)
        y = _npz_labels(path, z, y_key, x_key, len(part)) if y_key in files else [None] * len(part)
        if y_key in files:
            labelled.add(split)
        ids += [f"{x_key}[{i}]" for i in range(len(part))]
        sequences += part
        labels += y
        splits += [split] * len(part)
    n_train = splits.count("train")
    groups = None
    if "groups" in files:
        g = np.asarray(z["groups"])
        if g.shape != (n_train,):
            raise UserError(f"'groups' in '{path}' has shape {g.shape}",
                            f"give one group (subject, session) per training sequence: shape ({n_train},)")
        groups = list(g) + [None] * (len(sequences) - n_train)
    return SequenceFile(path=path, kind="npz", ids=ids, sequences=sequences,
                        labels=labels if labelled else None, labelled=frozenset(labelled),
                        splits=splits if "x_test" in files else None, groups=groups, columns=sorted(files),
                        channels=None)


def _npz_labels(path: Path, z, y_key: str, x_key: str, n: int) -> list:
    y = np.asarray(z[y_key])
    if y.ndim == 0 or len(y) != n:
        count = 0 if y.ndim == 0 else len(y)
        raise UserError(f"'{path}': '{y_key}' has {count} labels for {n} sequences in '{x_key}'",
                        "give exactly one label (or target row) per sequence")
    return list(y)


def _npz_sequences(path: Path, z, x_key: str, len_key: str) -> list[np.ndarray]:
    x = z[x_key]
    if x.dtype == object:  # one array per sequence
        if len_key in z.files:
            raise UserError(f"'{len_key}' given with an object array '{x_key}' in '{path}'",
                            f"drop '{len_key}': the lengths of an object array are the arrays' own")
        seqs = []
        for i, s in enumerate(x):
            s = np.asarray(s)
            if s.ndim == 1:  # a single-channel sequence given as (length,)
                s = s[:, None]
            if s.ndim != 2:
                raise UserError(f"'{path}': '{x_key}[{i}]' has shape {s.shape}, expected (length, channels)",
                                "store each sequence as a 2-D array (length, channels)")
            seqs.append(_finite(path, _as_float32(path, s, f"{x_key}[{i}]"), f"{x_key}[{i}]"))
        return seqs
    if x.ndim == 2:  # (n, length): single channel
        x = x[:, :, None]
    if x.ndim != 3:
        raise UserError(f"'{path}': '{x_key}' has shape {x.shape}, expected (n, length, channels)",
                        "store a padded 3-D array (n, max_len, channels) plus 'lengths', or an object array")
    x = _as_float32(path, x, x_key)
    if len_key in z.files:
        lengths = np.asarray(z[len_key])
        if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise UserError(f"'{path}': '{len_key}' has shape {lengths.shape} and dtype {lengths.dtype}",
                            f"'{len_key}' must be an integer array with one entry per sequence ({x.shape[0]})")
        if lengths.size and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise UserError(f"'{path}': '{len_key}' has values outside 1..{x.shape[1]}",
                            "every sequence needs at least 1 step and at most the padded length")
    else:
        lengths = np.full(x.shape[0], x.shape[1])
    return [_finite(path, x[i, : lengths[i]], f"{x_key}[{i}]") for i in range(x.shape[0])]


def _as_float32(path: Path, a: np.ndarray, what: str) -> np.ndarray:
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise UserError(f"'{path}': '{what}' has dtype {a.dtype}, not real numbers",
                        "store the sequences as float arrays")
    with np.errstate(over="ignore"):   # a value beyond float32's range becomes inf: _finite names it
        return a.astype(np.float32)


def _finite(path: Path, seq: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(seq).all():
        first = np.argwhere(~np.isfinite(seq))[0]       # where, as numpy indexes it: the user's own array
        at = f"step {first[0]}" + (f", channel {first[1]}" if len(first) > 1 else "")
        raise UserError(f"'{path}': '{what}' holds NaN or inf at {at} (0-based; or a value beyond float32's range, "
                        f"±{FLOAT32_MAX:.1e})", "record finite values only (clean or interpolate missing values first)")
    return seq


# ---- writing (CSV) -------------------------------------------------------------------------------------

def _float32_text(value) -> str:
    """The shortest decimal that reads back as the same float32 (this reader parses float64, then float32)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def write_csv(path, ids: list[str], sequences: list[np.ndarray], channels: list[str]) -> None:
    """A CSV this module reads back to the same float32 frames: `sequence_id`, then one column per channel (no
    label column: unlabelled recordings). Written to a temporary file, then renamed, so a reader never sees half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([ID_COLUMN, *channels])
        for key, seq in zip(ids, sequences):
            for frame in np.asarray(seq, dtype=np.float32):
                writer.writerow([key, *(_float32_text(v) for v in frame)])
    tmp.replace(path)


# ---- appending a recording (CSV) ---------------------------------------------------------------------

def csv_header(path) -> list[str] | None:
    """The header of an existing CSV sequence file, None when the file does not exist or is empty."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            row = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read '{path}' as CSV ({type(e).__name__}: {e})",
                        "append to a CSV sequence file of docs/data-formats.md, or give a new file") from None
    return [h.strip() for h in row] if row else None


def append_csv_sequence(path, header: list[str], sequence_id: str, fields: dict[str, str], frames) -> None:
    """Append one sequence to a CSV sequence file in the format above: `header` is the file's (written first
    when the file is new or empty), `fields` the per-sequence columns (label, split, group) by name, `frames`
    (length, channels) numbers for the header's other columns in order. Written in one piece, flushed and
    fsynced before returning, so a sequence once appended survives the program being killed."""
    path = Path(path)
    channels = [h for h in header if h != ID_COLUMN and h not in fields]
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != len(channels) or len(frames) == 0:
        raise ValueError(f"frames of shape {frames.shape} for the {len(channels)} channels {channels}")
    if not np.isfinite(frames).all():
        raise ValueError("frames hold NaN or inf")
    per_sequence = {ID_COLUMN: sequence_id, **fields}
    rows = []
    for frame in frames:
        values = iter(frame)
        rows.append([per_sequence[h] if h in per_sequence else repr(float(next(values))) for h in header])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if csv_header(path) is None:
        writer.writerow(header)
    writer.writerows(rows)
    with open(path, "a", newline="", encoding="utf-8") as f:
        f.write(text.getvalue())          # one write of whole rows
        f.flush()
        os.fsync(f.fileno())
