"""The user's own recordings through the deployed model: read, pre-process as the C library does, run.

`tinyrnn predict --model DIR FILE` (host: twin + float model) and `tinyrnn harness --inputs FILE` (board vs
twin vs float) share this module. Base install only: numpy and the standard library (no pandas, no TensorFlow),
and the files are read by host/formats/sequences.py, the one reader of docs/data-formats.md.

Every sequence of the file is used (a `split` column or `x_test` only names where a sequence came from).
Labels are optional: with them, accuracy is reported too.

Pre-processing: exactly what the exported library's `<name>_push_float` does (quantize/twin/preprocess.py with
the constants quantize/emit/c_library.Preprocess generates): each float value becomes an integer of
2^-FLOAT_FRAC_BITS units, `downsample` frames are summed, and one multiply-add-shift per channel gives the
kernel's int16 input. The twin's `quantize_input` is not used here: it rounds (x - mean) / std in float64 and
knows no downsampling, so it can differ from the library by one LSB on some inputs and would not say what the
deployed code computes from these values. Frames left over at the end of a sequence (fewer than `downsample`)
make no step, as in the library. The float model sees the mean of the same blocks, normalised.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyrnn.host.formats.sequences import FORMATS_DOC, read_sequence_file
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.reference.float_ref import normalise, run_float
from tinyrnn.quantize.reference.metrics import compare_outputs, final_outputs, target_norm_pair
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel
from tinyrnn.quantize.twin.params import UnsupportedModel
from tinyrnn.quantize.artifact import WEIGHTS_NAME, Artifact, Manifest


@dataclass
class Recordings:
    """Raw sequences of a user's file: float32 frames (length, channels) each, names, labels (None: none)."""
    path: Path
    names: list[str]
    sequences: list[np.ndarray]
    labels: list | None          # one per sequence (str for CSV, the array's values for NPZ; None = unlabelled)
    channels: list[str] | None = None    # a CSV's channel columns, in file order (None for NPZ: unnamed)

    def __len__(self):
        return len(self.sequences)


# ---- reading: host/formats/sequences.py reads the file; recordings take every sequence, labels optional ----

def load_recordings(path) -> Recordings:
    """The sequences of a .csv or .npz file (docs/data-formats.md); a file that cannot be used is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recordings file '{path}' does not exist", "check the path")
    file = read_sequence_file(path)
    if not file.sequences:
        raise UserError(f"'{path}' holds no sequences", f"see {FORMATS_DOC}")
    labels = None
    if file.labels is not None:
        labels = [None if v is None or (file.kind == "csv" and not v) else v for v in file.labels]
        if all(v is None for v in labels):
            labels = None
    return Recordings(path, file.ids, file.sequences, labels, file.channels)


def match_channels(rec: Recordings, manifest) -> Recordings:
    """The recordings with their channels in the model's order, matched by name when both sides name them (the
    model's names are stored at training): reordered when the columns are the model's in another order; one line
    naming the missing and unknown columns when they differ. Unnamed channels (NPZ, older models) are taken as
    they come."""
    wanted = manifest.get("channels")
    if not wanted or rec.channels is None or list(rec.channels) == list(wanted):
        return rec
    missing = [c for c in wanted if c not in rec.channels]
    unknown = [c for c in rec.channels if c not in wanted]
    if missing or unknown:
        said = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                          f"unknown {', '.join(unknown)}" if unknown else "") if part)
        raise UserError(f"'{rec.path}': its channel columns are not the model's ({said})",
                        f"record the columns the model was trained on: {', '.join(wanted)} (any order)")
    order = [list(rec.channels).index(c) for c in wanted]
    return dataclasses.replace(rec, sequences=[s[:, order] for s in rec.sequences], channels=list(wanted))


def load_model(model_dir) -> tuple[TwinModel, Manifest, dict]:
    """(twin, model.json, float weights) of an artifact directory; no test split needed. One-line errors."""
    artifact = Artifact.open(model_dir).require(WEIGHTS_NAME)
    manifest, weights = artifact.require_shape(), artifact.weights()
    try:
        twin = TwinModel.from_artifact_dir(model_dir)
    except UnsupportedModel as e:
        raise UserError(str(e), "train or export the model again") from None
    return twin, manifest, weights


# ---- pre-processing and the host runs ----------------------------------------------------------------

@dataclass
class Prepared:
    """One model's view of a Recordings: kernel inputs (as the library computes them) and float inputs."""
    names: list[str]
    x_q: np.ndarray              # (n, T, d) int16, padded with 0
    x_norm: np.ndarray           # (n, T, d) float64: normalised block means (the float model's inputs)
    lengths: np.ndarray          # (n,) model steps
    frames: np.ndarray           # (n,) raw frames read
    labels: np.ndarray | None    # (n,) class ids (-1 unlabelled) or (n, k) targets (NaN unlabelled); None: none
    downsample: int
    skipped: list[str]           # sequences shorter than one block: no step, left out

    def head(self, n: int) -> "Prepared":
        """The first n sequences (a --limit run, or a run the link stopped)."""
        return Prepared(self.names[:n], self.x_q[:n], self.x_norm[:n], self.lengths[:n], self.frames[:n],
                        None if self.labels is None else self.labels[:n], self.downsample, self.skipped)


def _encode_labels(rec: Recordings, keep, manifest) -> np.ndarray | None:
    if rec.labels is None:
        return None
    labels = [rec.labels[i] for i in keep]
    if manifest["task"] == "classification":
        classes = [str(c) for c in manifest.get("classes") or range(manifest["output_dim"])]
        ids = []
        for name, label in zip((rec.names[i] for i in keep), labels):
            if label is None:
                ids.append(-1)
                continue
            text = str(label.item() if isinstance(label, np.generic) else label)
            if text not in classes:
                raise UserError(f"'{rec.path}': sequence {name!r} has the label {text!r}, which is not one of "
                                f"the model's classes", f"use one of: {', '.join(classes)} (or no label)")
            ids.append(classes.index(text))
        return np.asarray(ids, dtype=np.int64)
    k = int(manifest["output_dim"])
    out = np.full((len(labels), k), np.nan)
    for row, label in enumerate(labels):
        if label is None:
            continue
        try:
            value = np.asarray(label, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            shown = label.item() if isinstance(label, np.generic) else label
            raise UserError(f"'{rec.path}': regression target {shown!r} is not a number",
                            "regression labels are numbers in the target's unit") from None
        if value.size != k:
            raise UserError(f"'{rec.path}': a target has {value.size} values, the model predicts {k}",
                            "give one value per model output")
        out[row] = value
    return out


def prepare(rec: Recordings, twin: TwinModel, manifest: dict) -> Prepared:
    """Kernel inputs as the library's push_float makes them, and the float model's inputs, for every sequence."""
    d = int(manifest["input_dim"])
    rec = match_channels(rec, manifest)
    for name, seq in zip(rec.names, rec.sequences):
        if seq.shape[1] != d:
            raise UserError(f"'{rec.path}': sequence {name!r} has {seq.shape[1]} channels, the model takes {d}",
                            "record the channels the model was trained on, in the same order")
    downsample = int(manifest.get("downsample", 1) or 1)
    pre = Preprocess(twin.params, downsample)
    keep = [i for i, s in enumerate(rec.sequences) if len(s) >= downsample]
    skipped = [rec.names[i] for i, s in enumerate(rec.sequences) if len(s) < downsample]
    if not keep:
        raise UserError(f"'{rec.path}': no sequence has the {downsample} frames one model step needs",
                        f"the model averages {downsample} frames per step (model.json downsample)")
    lengths = np.array([len(rec.sequences[i]) // downsample for i in keep], dtype=np.int64)
    steps = int(lengths.max())
    x_q = np.zeros((len(keep), steps, d), dtype=np.int16)
    means = np.zeros((len(keep), steps, d), dtype=np.float64)
    for row, i in enumerate(keep):
        frames = rec.sequences[i][:lengths[row] * downsample]
        x_q[row, :lengths[row]] = pp.quantize_frames(pp.float_to_raw(frames, pre.float_bits), pre.float_fold)
        means[row, :lengths[row]] = frames.astype(np.float64).reshape(-1, downsample, d).mean(axis=1)
    x_norm = normalise(manifest, means)
    x_norm[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    return Prepared(names=[rec.names[i] for i in keep], x_q=x_q, x_norm=x_norm, lengths=lengths,
                    frames=np.array([len(rec.sequences[i]) for i in keep]), labels=_encode_labels(rec, keep, manifest),
                    downsample=downsample, skipped=skipped)


def float_outputs(prepared: Prepared, manifest: dict, weights: dict) -> np.ndarray:
    """The float model (quantize/reference/float_ref.py, numpy only) after every step, (n, T, k)."""
    return run_float(manifest, weights, prepared.x_norm)


def to_user_units(values: np.ndarray, manifest: dict) -> np.ndarray:
    """Probabilities stay; normalised regression values -> the target's unit (model.json target_norm)."""
    norm = target_norm_pair(manifest.get("target_norm")) if manifest["task"] == "regression" else None
    if norm is None:
        return np.asarray(values, np.float64)
    mean, std = norm
    return np.asarray(values, np.float64) * std + mean


def compare(prepared: Prepared, ref_steps, test_steps, manifest: dict) -> dict:
    """Figures of `test_steps` (twin or board, dequantized) against the float model's `ref_steps`: the project's
    figures (compare_outputs), accuracy over the labelled sequences only, and per-step argmax agreement."""
    task, lengths = manifest["task"], prepared.lengths
    no_labels = np.zeros(len(lengths) if task == "classification" else (len(lengths), np.shape(ref_steps)[-1]))
    figures = compare_outputs(ref_steps, test_steps, lengths, no_labels, task, manifest.get("target_norm"))
    figures.pop("accuracy", None)
    figures.pop("rmse", None)
    labelled = _labelled(prepared, task)
    if labelled is not None and labelled.any() and prepared.labels is not None:
        test_final = to_user_units(final_outputs(test_steps, lengths), manifest)[labelled]
        ref_final = to_user_units(final_outputs(ref_steps, lengths), manifest)[labelled]
        y = prepared.labels[labelled]
        if task == "classification":
            figures["accuracy"] = float(np.mean(test_final.argmax(-1) == y))
            figures["float_accuracy"] = float(np.mean(ref_final.argmax(-1) == y))
        else:
            figures["rmse"] = float(np.sqrt(np.mean((test_final - y) ** 2)))
            figures["float_rmse"] = float(np.sqrt(np.mean((ref_final - y) ** 2)))
        figures["labelled_sequences"] = int(labelled.sum())
    if task == "classification":
        valid = np.arange(test_steps.shape[1])[None, :] < lengths[:, None]
        figures["step_argmax_agreement"] = float(np.mean(
            np.asarray(test_steps)[valid].argmax(-1) == np.asarray(ref_steps)[valid].argmax(-1)))
    return figures


def _labelled(prepared: Prepared, task: str):
    if prepared.labels is None:
        return None
    return prepared.labels >= 0 if task == "classification" else ~np.isnan(prepared.labels).any(axis=1)


def per_sequence(prepared: Prepared, manifest: dict, ref_steps, test_steps, test_name="twin") -> list[dict]:
    """One record per sequence: final prediction of `test_steps` and of the float model, and whether they agree
    (same argmax for a classifier; for regression, the largest |difference| in the target's unit)."""
    lengths = prepared.lengths
    test_final = to_user_units(final_outputs(test_steps, lengths), manifest)
    ref_final = to_user_units(final_outputs(ref_steps, lengths), manifest)
    classes = manifest.get("classes") or [str(j) for j in range(int(manifest["output_dim"]))]
    rows = []
    for i, name in enumerate(prepared.names):
        row = {"sequence": name, "frames": int(prepared.frames[i]), "steps": int(lengths[i])}
        if manifest["task"] == "classification":
            kt, kf = int(test_final[i].argmax()), int(ref_final[i].argmax())
            row.update({f"{test_name}_class": classes[kt], f"{test_name}_probability": float(test_final[i, kt]),
                        "float_class": classes[kf], "float_probability": float(ref_final[i, kf]),
                        "agree": kt == kf})
            if prepared.labels is not None and prepared.labels[i] >= 0:
                row["label"] = classes[int(prepared.labels[i])]
        else:
            row.update({test_name: test_final[i].tolist(), "float": ref_final[i].tolist(),
                        "max_abs_difference": float(np.abs(test_final[i] - ref_final[i]).max())})
            if prepared.labels is not None and not np.isnan(prepared.labels[i]).any():
                row["label"] = prepared.labels[i].tolist()
        rows.append(row)
    return rows


def table_lines(rows: list[dict], task: str, test_name="twin") -> list[str]:
    """The per-sequence table the commands print."""
    width = max(8, *(len(r["sequence"]) for r in rows))
    if task == "classification":
        lines = [f"{'sequence':{width}s} {'steps':>6s}  {test_name + ' (p)':22s} {'float (p)':22s} agree  label"]
        for r in rows:
            mine = "{} ({:.3f})".format(r[test_name + "_class"], r[test_name + "_probability"])
            ref = "{} ({:.3f})".format(r["float_class"], r["float_probability"])
            lines.append(f"{r['sequence']:{width}s} {r['steps']:6d}  {mine:22s} {ref:22s} "
                         f"{'yes' if r['agree'] else 'NO':5s}  {r.get('label', '-')}")
        return lines
    fmt = lambda v: " ".join(f"{x:.4g}" for x in v)   # noqa: E731
    lines = [f"{'sequence':{width}s} {'steps':>6s}  {test_name:22s} {'float':22s} {'max |diff|':>10s}  label"]
    for r in rows:
        label = fmt(r["label"]) if "label" in r else "-"
        lines.append(f"{r['sequence']:{width}s} {r['steps']:6d}  {fmt(r[test_name]):22s} {fmt(r['float']):22s} "
                     f"{r['max_abs_difference']:10.4g}  {label}")
    return lines


def figure_line(figures: dict, task: str, test_name="twin") -> str:
    """One line of the figures against the float model."""
    parts = []
    if task == "classification":
        parts.append(f"final argmax agreement {figures['argmax_agreement']:.4g}, "
                     f"per-step {figures['step_argmax_agreement']:.4g}")
    parts.append(f"final max |diff| {figures['final_max_abs']:.3g}, step max |diff| {figures['step_max_abs']:.3g} "
                 f"(mean {figures['step_mean_abs']:.3g})")
    if "accuracy" in figures:
        parts.append(f"accuracy on {figures['labelled_sequences']} labelled: {test_name} {figures['accuracy']:.4g}, "
                     f"float {figures['float_accuracy']:.4g}")
    if "rmse" in figures:
        parts.append(f"RMSE on {figures['labelled_sequences']} labelled: {test_name} {figures['rmse']:.4g}, "
                     f"float {figures['float_rmse']:.4g}")
    return f"{test_name} vs float: " + "; ".join(parts)
