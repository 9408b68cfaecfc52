"""`tinyrnn import`: a model trained elsewhere -> the same artifact directory `tinyrnn train` writes.

Stages: read the model with its framework's loader (refusing what the kernel cannot run) -> load the user's data
-> fold the input normalisation (the model's, else the data's) and regression target scaling into the weights
-> the framework's outputs at every test step (the float reference) -> the numpy step model checked against
them -> int8 TFLite step model, kernel export and report: the training pipeline's own later stages.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyrnn.host.importers.imported import (SOFTMAX, ImportedModel, LayoutRefused, fold_input_norm,
                                             fold_target_norm)
from tinyrnn.host.report.html import REPORT_NAME
from tinyrnn.host.training import convert as C
from tinyrnn.host.training import data as D
from tinyrnn.host.training import model as M
from tinyrnn.host.training import pipeline as P
from tinyrnn.host.training.artifacts import check_destination, staged_directory, write_json
from tinyrnn.host.training.data import CLASSIFICATION, REGRESSION
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.reference import metrics as E

# The numpy step model (weights.npz) must reproduce the framework's outputs this closely, or the import is refused:
# a mapping error must never become a silently wrong model.
MAPPING_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ImportRequest:
    """One `tinyrnn import`: the model file, the user's data, where the artifact goes."""
    model: str
    data: str
    task: str | None = None             # None: from the head (softmax: classification) and the labels
    test_fraction: float = 0.25
    group_column: str | None = None
    calibration_samples: int = 3000
    fine_tune_epochs: int = 0           # > 0: int8-grid fine-tuning in the model's framework
    fine_tune_lr: float = 0.001
    seed: int = 0
    out: str | None = None              # None: build/<model file stem>
    force: bool = False
    quiet: bool = False


def read_model(path: Path) -> ImportedModel:
    """The model, through the reader its file suffix names."""
    if not path.is_file():
        raise UserError(f"{path}: no such model file", "give the path of a .keras, .h5, .pt2, .pt or .onnx file")
    suffix = path.suffix.lower()
    from tinyrnn.host.importers import keras_model
    from tinyrnn.host.importers import onnx_model, torch_model
    P.require_train_extra(bundled=False)    # the int8 TFLite reference and the report, whatever the source
    if suffix in keras_model.KERAS_SUFFIXES:
        return keras_model.load(path)
    if suffix in torch_model.TORCHSCRIPT_SUFFIXES + torch_model.EXPORT_SUFFIXES:
        return torch_model.load(path)
    if suffix in onnx_model.ONNX_SUFFIXES:
        return onnx_model.load(path)
    raise UserError(f"{path}: unknown model file type '{suffix}'",
                    "import a Keras .keras/.h5, a TorchScript .pt, a torch.export .pt2 or an .onnx file")


def choose_task(imported: ImportedModel, requested: str | None) -> str | None:
    """A softmax head is a classifier; a linear one is whatever the labels say (regression, or logits)."""
    if imported.head == SOFTMAX:
        if requested == REGRESSION:
            raise UserError("--task regression with a softmax head", "drop --task, or import a model with a "
                            "linear head")
        return CLASSIFICATION
    return requested


def check_data_fits(imported: ImportedModel, ds) -> None:
    if ds.input_dim != imported.input_dim:
        raise UserError(f"the data has {ds.input_dim} channels, the model takes {imported.input_dim}",
                        "give the data the model was trained on")
    if ds.output_dim != imported.output_dim:
        unit = "classes" if ds.task == CLASSIFICATION else "targets"
        raise UserError(f"the data has {ds.output_dim} {unit}, the model has {imported.output_dim} outputs",
                        "give the data the model was trained on (every class must occur in it)")


def kernel_weights(imported: ImportedModel, inputs: P.Inputs) -> dict:
    """weights.npz for normalised inputs and (regression) normalised targets, as a trained artifact has."""
    weights = imported.weights
    if imported.norm is None:       # the model takes raw inputs: the data's normalisation is folded in
        weights = fold_input_norm(weights, inputs.mean, inputs.std)
    if inputs.target_norm is not None:
        weights = fold_target_norm(weights, *inputs.target_norm)
    return weights


def framework_reference(run, inputs: P.Inputs, logits: bool) -> np.ndarray:
    """The framework's own head output after every real test step (`run` on the raw test inputs), in the
    artifact's terms (softmax for a classifier that outputs logits, normalised targets for regression), zero past
    each length."""
    steps = run(inputs.x_test_raw, inputs.test_len).astype(np.float64)
    if logits and not looks_like_probabilities(steps, inputs.test_len):
        steps = np.exp(steps - steps.max(axis=-1, keepdims=True))
        steps /= steps.sum(axis=-1, keepdims=True)
    if inputs.target_norm is not None:
        steps = (steps - inputs.target_norm[0]) / inputs.target_norm[1]
    steps[np.arange(steps.shape[1])[None, :] >= inputs.test_len[:, None]] = 0.0
    return steps.astype(np.float32)


def looks_like_probabilities(steps: np.ndarray, lengths: np.ndarray) -> bool:
    """A softmax applied in the model's code rather than as a layer: outputs in [0, 1] that sum to 1."""
    real = steps[np.arange(steps.shape[1])[None, :] < lengths[:, None]]
    return bool(real.min() >= 0 and np.allclose(real.sum(axis=-1), 1.0, atol=1e-4))


def mapping_drift(weights: dict, cfg, inputs: P.Inputs, reference: np.ndarray) -> float:
    """How far the numpy step model on weights.npz is from the framework's outputs."""
    return float(np.abs(M.run_numpy(weights, cfg, inputs.x_test, inputs.test_len) - reference).max())


def checked_reference(imported: ImportedModel, weights: dict, cfg, inputs: P.Inputs, logits: bool):
    """The framework's outputs in the reading of its input layout that the kernel's step reproduces, the drift,
    and that reading; refuses the import when no reading does: a mapping error never becomes a silently wrong
    model."""
    drift, last_error = float("inf"), None
    for run in [imported.step_outputs, *imported.other_layouts]:
        try:
            reference = framework_reference(run, inputs, logits)
        except LayoutRefused as err:
            last_error = err
            continue
        drift = min(drift, mapping_drift(weights, cfg, inputs, reference))
        if drift <= MAPPING_TOLERANCE:
            return reference, drift, run
    if drift == float("inf"):
        raise UserError(f"{imported.source}: the model does not run on the test sequences and their prefixes "
                        f"({last_error})", "export it with dynamic batch and time axes (docs/import.md)")
    raise UserError(f"{imported.source}: the kernel's cell computes something else than the model (outputs differ "
                    f"by {drift:.3g})",
                    "the model uses a construct the importer does not know: report it with the model file")


def model_config(imported: ImportedModel, task: str) -> M.ModelConfig:
    return M.ModelConfig(imported.input_dim, imported.output_dim, imported.cell, imported.units, imported.layers,
                         imported.reset_after if imported.cell == "gru" else False, task)


def fine_tune(imported: ImportedModel, inputs: P.Inputs, r: ImportRequest) -> tuple[ImportedModel, dict]:
    """Int8-grid fine-tuning in the model's own framework (Keras, PyTorch TorchScript); returns the fine-tuned
    model and the metrics.json "int8_grid" block (float test figures before and after, the framework's own
    outputs)."""
    from tinyrnn.host.importers import keras_model, torch_grid
    framework = imported.source.split()[0]
    if imported.framework_model is None or framework not in ("Keras", "PyTorch"):
        raise UserError(f"{imported.source}: --fine-tune-epochs is available for Keras and PyTorch models only",
                        "drop --fine-tune-epochs (the import is then post-training quantization)")
    ds = inputs.ds
    classify = ds.task == CLASSIFICATION
    logits = classify and imported.head != SOFTMAX
    if framework == "PyTorch":      # the module's input layout, as the kernel's step reads it, before training
        torch_grid.require_trainable(imported)
        _, _, reading = checked_reference(imported, kernel_weights(imported, inputs), model_config(imported, ds.task),
                                          inputs, logits)
        batch_first = getattr(reading, "batch_first", True)
    elif inputs.variable and "Masking" not in " ".join(imported.notes):
        raise UserError("--fine-tune-epochs with sequences of different lengths needs a Masking layer in the model",
                        "add keras.layers.Masking at the input, or drop --fine-tune-epochs")

    def float_figures(model: ImportedModel) -> dict:
        steps = framework_reference(model.step_outputs, inputs, logits)
        return E.task_figures(M.final_outputs(steps, inputs.test_len), ds.test.targets, ds.task, inputs.target_norm)

    started = time.perf_counter()
    if framework == "PyTorch":
        before = float_figures(dataclasses.replace(imported, step_outputs=reading))
        tuned = torch_grid.fine_tune_on_int8_grid(imported, ds.train.sequences, ds.train.targets, classify,
                                                  batch_first, r.fine_tune_epochs, r.fine_tune_lr, r.seed, r.quiet)
        tuned.step_outputs, tuned.other_layouts = (tuned.step_outputs, []) if batch_first else \
            (tuned.other_layouts[0], [])
    else:
        before = float_figures(imported)
        tuned = keras_model.fine_tune_on_int8_grid(imported, D.pad(ds.train.sequences, ds.max_len),
                                                  ds.train.targets, classify, r.fine_tune_epochs, r.fine_tune_lr,
                                                  r.quiet)
    grid = {"epochs": r.fine_tune_epochs, "learning_rate": r.fine_tune_lr,
            "seconds": round(time.perf_counter() - started, 2), "float_before": before,
            "float_after": float_figures(tuned)}
    return tuned, grid


def build_manifest(imported: ImportedModel, inputs: P.Inputs, cfg, seed: int) -> dict:
    manifest = P.build_manifest(cfg, inputs, seed, epochs=0, downsample=1)
    manifest["int8_grid_epochs"] = 0
    manifest["imported_from"] = imported.source
    manifest["norm_source"] = "model" if imported.norm is not None else "data"
    return manifest


def run(request: ImportRequest) -> int:
    started = time.perf_counter()
    r = request
    say = (lambda *a: None) if r.quiet else (lambda msg: print(msg, flush=True))
    model_path = Path(r.model)
    out = Path(r.out) if r.out else Path("build") / model_path.stem
    check_destination(out, r.force)
    imported = read_model(model_path)
    imported.check_bounds(imported.source)
    say(f"{imported.source}: {imported.cell.upper()}({imported.units}) x{imported.layers}, "
        f"{imported.input_dim} inputs, {imported.output_dim} outputs ({imported.head} head)")

    say(f"loading {r.data} ...")
    ds = D.load_dataset(None, r.data, task=choose_task(imported, r.task), test_fraction=r.test_fraction,
                        seed=r.seed, group_column=r.group_column)
    check_data_fits(imported, ds)
    inputs = P.prepare_inputs(ds, norm=imported.norm)
    grid = None
    if r.fine_tune_epochs:
        imported, grid = fine_tune(imported, inputs, r)
    cfg = model_config(imported, ds.task)
    weights = kernel_weights(imported, inputs)
    logits = ds.task == CLASSIFICATION and imported.head != SOFTMAX
    float_steps, drift, _ = checked_reference(imported, weights, cfg, inputs, logits)

    notes = [f"imported from {imported.source}: the float reference is that framework's own output after every "
             f"step (the numpy step model on weights.npz agrees within {drift:.1g})",
             "input normalisation " + ("from the model" if imported.norm is not None else
                                       "from the data's training split, folded into the first layer's weights"),
             *([] if grid else ["post-training quantization: no training happened here"]), *imported.notes]
    if grid:
        notes.append(f"int8-grid fine-tuning in {imported.source.split()[0]}: {grid['epochs']} epochs at learning "
                     f"rate {grid['learning_rate']:g}; float test " + ", ".join(
                         f"{k} {grid['float_before'][k]:.4f} -> {v:.4f}" for k, v in grid["float_after"].items()) +
                     f". The float reference is the fine-tuned model, saved as {fine_tuned_name(imported)} in "
                     "this directory (the original file is untouched).")
    if logits:
        notes.append("the model's head is a linear layer and the labels are classes: the board applies the softmax "
                     "(the model's outputs are taken as logits unless they already are probabilities)")
    manifest, metrics = write_artifact(imported, inputs, cfg, weights, float_steps, r, out, notes, started, grid)
    print_summary(out, manifest, metrics)
    return 0


def write_artifact(imported: ImportedModel, inputs: P.Inputs, cfg, weights: dict, float_steps: np.ndarray,
                   r: ImportRequest, out: Path, notes: list, started: float,
                   grid: dict | None = None) -> tuple[dict, dict]:
    """The artifact directory, through the training pipeline's later stages."""
    ds, y_test = inputs.ds, inputs.ds.test.targets
    step_model = M.build_step_model(cfg, weights)
    if not r.quiet:
        print(f"converting the step model to int8 TFLite ({r.calibration_samples} calibration samples) ...")
    tflite_bytes, int8_steps = P.int8_reference(step_model, weights, cfg, inputs, r.calibration_samples, r.seed,
                                                r.quiet)
    metrics = {
        "float": E.task_figures(M.final_outputs(float_steps, inputs.test_len), y_test, ds.task, inputs.target_norm),
        "tflite_int8": {**E.compare_outputs(float_steps, int8_steps, inputs.test_len, y_test, ds.task,
                                            inputs.target_norm), "runtime": C.runtime_name()},
        "params": M.expected_params(cfg), "macs_per_step": M.macs_per_step(cfg), "train_seconds": 0.0,
        "imported_from": imported.source,
        **({"int8_grid": grid} if grid else {}),
    }
    manifest = build_manifest(imported, inputs, cfg, r.seed)
    manifest["int8_grid_epochs"] = grid["epochs"] if grid else 0
    with staged_directory(out, r.force) as stage:
        shutil.copyfile(r.model, stage / f"source{Path(r.model).suffix.lower()}")
        if grid:        # the user's file stays as it was; the fine-tuned model is theirs too
            grid["saved_as"] = save_fine_tuned(imported, stage)
        artifact = Artifact.create(stage, manifest)
        artifact.write_keras_models(step_model)
        artifact.write_int8_tflite(tflite_bytes)
        artifact.write_weights(weights)
        artifact.write_test_split(x=inputs.x_test_raw, lengths=inputs.test_len.astype(np.int32), y=y_test,
                                  float_outputs=float_steps)
        history: dict = {"loss": []}
        write_json(stage / "history.json", history)
        P.finish_artifact(artifact, manifest, metrics, history, inputs, (float_steps, int8_steps), tflite_bytes,
                          notes, started, r.quiet, out.name)
    return manifest, metrics


def fine_tuned_name(imported: ImportedModel) -> str:
    return "fine_tuned.pt" if imported.source.startswith("PyTorch") else "fine_tuned.keras"


def save_fine_tuned(imported: ImportedModel, directory: Path) -> str:
    """The fine-tuned model in its framework's own file form, in the artifact directory; returns its name."""
    name = fine_tuned_name(imported)
    if imported.source.startswith("PyTorch"):
        import warnings

        from tinyrnn.host.importers.torch_model import require_torch
        with warnings.catch_warnings():     # torch.jit.save's deprecation notice: the user's format, not news
            warnings.simplefilter("ignore")
            require_torch().jit.save(imported.framework_model, str(directory / name))
    else:
        imported.framework_model.save(directory / name)
    return name


def print_summary(out: Path, manifest: dict, metrics: dict) -> None:
    """The imported model's figures: the kernel and int8 TFLite against the framework's own outputs."""
    key = "accuracy" if manifest["task"] == CLASSIFICATION else "rmse"
    columns = [("int8 TFLite", metrics["tflite_int8"]), ("tinyrnn kernel", metrics["kernel"])]
    rows = [(key, key), ("argmax agreement", "argmax_agreement"), ("final max abs", "final_max_abs"),
            ("step max abs", "step_max_abs"), ("step mean abs", "step_mean_abs")]
    lines = [f"{manifest['imported_from']}: {manifest['cell'].upper()}({manifest['units']}) x{manifest['layers']}, "
             f"{metrics['params']:,} params; float {key} {metrics['float'][key]:.4f} (the framework's own outputs)",
             f"  {'vs the framework':18s}" + "".join(f"{name:>16s}" for name, _ in columns)]
    for label, field in rows:
        if all(field in block for _, block in columns):
            lines.append(f"  {label:18s}" + "".join(f"{P.figure(block[field]):>16s}" for _, block in columns))
    k, grid = metrics["kernel"], metrics.get("int8_grid")
    how = (f"int8-grid fine-tuning, {grid['epochs']} epochs: float {key} {grid['float_before'][key]:.4f} before, "
           f"{grid['float_after'][key]:.4f} after (the reference above is the model after, saved as "
           f"{out / grid['saved_as']})") if grid else \
        "post-training quantization"
    lines += [f"  kernel: kernel+model flash {k['flash_bytes']:,} B on {k.get('flash_core', 'cortex-m4')}, "
              f"RAM {k['ram_bytes']:,} B, model hash {k['model_hash']}",
              f"  normalisation from the {manifest['norm_source']}; {how}; total {metrics['total_seconds']:.1f} s",
              f"  verdict: {'PASS' if metrics['verdict']['passed'] else 'FAIL'} "
              f"({'; '.join(metrics['verdict']['reasons'])})",
              f"  artifacts: {out}/",
              f"  report: {out / REPORT_NAME}"]
    print("\n".join(lines))
