"""The training pipeline: data -> a complete artifact directory (`tinyrnn train`, `python host/train.py`).

Stages: load + check data -> train the Keras sequence model -> build the step model from its weights ->
float outputs on the test split -> int8 TFLite conversion and evaluation -> fixed-point kernel export
(quantize/: kernel.npz, generated C, the twin's outputs) -> report.
The directory layout is the contract in docs/artifacts.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info/warning lines drown the output

import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from tinyrnn.quantize.errors import UserError  # noqa: E402
from tinyrnn.host.training import convert as C  # noqa: E402
from tinyrnn.host.training import data as D  # noqa: E402
from tinyrnn.host.training import model as M  # noqa: E402
from tinyrnn.host.training import qat  # noqa: E402
from tinyrnn.host.training.artifacts import check_destination, staged_directory, write_json  # noqa: E402
from tinyrnn.host.training.data import BUNDLED, CLASSIFICATION, REGRESSION  # noqa: E402
from tinyrnn.host.report.html import REPORT_NAME, write_html  # noqa: E402
from tinyrnn.host.training.report import per_class_figures, write_report  # noqa: E402
from tinyrnn.quantize.artifact import FORMAT_VERSION, Artifact  # noqa: E402
from tinyrnn.quantize.emit.export import export  # noqa: E402
from tinyrnn.quantize.toolchain.build import KERNEL_MODEL_FLASH  # noqa: E402
from tinyrnn.quantize.reference import metrics as E  # noqa: E402
from tinyrnn.quantize.reference.metrics import check_thresholds, task_figures, verdict  # noqa: E402
from tinyrnn.quantize.twin.params import MAX_DIM, MAX_LAYERS, UnsupportedModel  # noqa: E402  (the kernel's bounds)

DEFAULT_DATASET = "basic_motions"
# Training defaults for --data files (bundled sets carry their own, tuned, in host/training/data.py).
FILE_DEFAULTS = {"epochs": 40, "batch_size": 16, "learning_rate": 0.01}
# Int8-grid fine-tuning (host/training/qat.py): epochs, and its learning rate as a share of the training one.
GRID_EPOCHS = 10
GRID_LR_SCALE = 0.1


@dataclass(frozen=True)
class TrainRequest:
    """One training run (`tinyrnn train`): the data, the model's shape, how it is trained, where it goes.

    The fields are `tinyrnn train`'s options (--group-column is group_column, ...), whose defaults are these;
    None means "the data set's own" (epochs, batch_size, lr, downsample) or "not given"."""

    dataset: str | None = None          # a bundled data set (DEFAULT_DATASET when neither this nor data is given)
    data: str | None = None             # a .csv/.npz file of the user's
    task: str | None = None             # CLASSIFICATION or REGRESSION; None: inferred from the labels
    group_column: str | None = None
    channels: str | None = None          # comma-separated CSV columns (--channels)
    test_fraction: float = 0.25
    downsample: int | None = None
    max_len: int | None = None
    cell: str = "gru"
    units: int = 32
    layers: int = 1
    reset_after: bool | None = None     # GRU only; None: Keras' default (True)
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    grid_epochs: int = GRID_EPOCHS
    calibration_samples: int = 3000
    out: str | None = None              # None: default_out_dir(...)
    force: bool = False
    quiet: bool = False


def check_options(request: TrainRequest) -> None:
    """Reject option values and combinations that cannot work, before any slow work starts."""
    r = request
    if r.dataset is not None and r.data is not None:
        raise UserError("--dataset and --data both given", "use --dataset for a bundled set or --data for a file")
    if r.data is None and r.dataset is not None and r.dataset not in BUNDLED:
        raise UserError(f"unknown data set '{r.dataset}'", f"use one of: {', '.join(BUNDLED)}")
    if not 1 <= r.units <= MAX_DIM:
        raise UserError(f"--units {r.units} is out of range", f"use 1 to {MAX_DIM} hidden units "
                        "(the largest the fixed-point kernel takes)")
    if not 1 <= r.layers <= MAX_LAYERS:
        raise UserError(f"--layers {r.layers} is out of range", f"use 1 to {MAX_LAYERS} stacked layers")
    if r.cell == "lstm" and r.reset_after is not None:
        raise UserError("--reset-after/--no-reset-after only apply to GRU", "drop it, or use --cell gru")
    checks = [("--epochs", r.epochs, 1), ("--batch-size", r.batch_size, 1), ("--downsample", r.downsample, 1),
              ("--max-len", r.max_len, 1), ("--calibration-samples", r.calibration_samples, 1),
              ("--grid-epochs", r.grid_epochs, 0), ("--seed", r.seed, 0)]
    for flag, value, low in checks:
        if value is not None and value < low:
            raise UserError(f"{flag} {value} is too small", f"use a value of at least {low}")
    if r.lr is not None and not r.lr > 0:
        raise UserError(f"--lr {r.lr} is not positive", "use a learning rate such as 0.01")
    if not 0 < r.test_fraction < 1:
        raise UserError(f"--test-fraction {r.test_fraction} is not between 0 and 1", "use e.g. 0.25")


# What training imports beyond the base install: the `train` extra.
TRAIN_MODULES = ("tensorflow", "keras", "ai_edge_litert", "pandas", "sklearn")


def require_train_extra(bundled: bool) -> None:
    """Say at once, in one line, when the train extra is missing (the base install only flashes and checks)."""
    needed = TRAIN_MODULES + (("sktime",) if bundled else ())
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"training needs {', '.join(missing)}, not installed here",
                        "pip install 'tinyrnn[train]' (the base install flashes, checks and exports only)")


def default_out_dir(dataset_name: str, data_path: str | None, cell: str, units: int, layers: int = 1) -> Path:
    """build/<data>-<cell><units>, with x<layers> for stacked models (so they never collide with one layer)."""
    name = Path(data_path).stem if data_path else dataset_name
    return Path("build") / f"{name}-{cell}{units}{f'x{layers}' if layers > 1 else ''}"


# --------------------------------------------------------------------------------------------


def progress_options(quiet: bool, stream=None) -> dict:
    """tqdm options: a live bar on a terminal; in a log file (CI) a plain line every 15 s at most, not one
    per update."""
    stream = stream or sys.stderr
    on_terminal = hasattr(stream, "isatty") and stream.isatty()
    return {"disable": quiet, "mininterval": 0.1 if on_terminal else 15.0,
            "ascii": not on_terminal, "dynamic_ncols": on_terminal}


def make_progress_callback(epochs: int, quiet: bool, stream=None):
    """A Keras callback drawing one tqdm bar over the epochs (Keras' own output is switched off)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, unit="epoch", desc="training", leave=False, file=stream,
                            **progress_options(quiet, stream))

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = {k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_accuracy")}
            self.bar.set_postfix(shown)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochProgress()


def run_later_stages(artifact_dir: Path, quiet: bool, final_name: str) -> dict:
    """The fixed-point kernel export (quantize/), on the (still temporary) artifact directory.

    Receives the directory with model.json, weights.npz, test_split.npz, model_int8.tflite already written.
    Returns {"metrics": <the metrics.json "kernel" block>, "outputs": (n, max_len, output_dim) per-step
    outputs of the fixed-point kernel on the test split}, which go into metrics.json and the report.
    """

    if not quiet:
        print("fixed-point kernel: quantizing, generating C, running the twin on the test split", flush=True)
    try:
        result = export(artifact_dir, progress=False, name=final_name)
    except UnsupportedModel as exc:
        raise UserError(f"the model cannot run on the fixed-point kernel: {exc}",
                        "change --cell/--layers/--units to a supported combination") from None
    return {"metrics": result["metrics"], "outputs": result["step_outputs"]}


@dataclass
class Inputs:
    """The data set as padded arrays, in the forms each stage needs."""

    ds: "object"  # host.data.Dataset
    mean: np.ndarray  # per-channel input normalisation (training split)
    std: np.ndarray
    target_norm: tuple | None  # (mean, std) of regression targets
    variable: bool  # lengths differ: train with masking
    train_len: np.ndarray
    test_len: np.ndarray
    x_test_raw: np.ndarray  # raw, zero-padded: what test_split.npz stores
    x_train: np.ndarray  # normalised, zero-padded: for stepping (numpy / int8), which stops at each length
    x_test: np.ndarray
    x_train_fit: np.ndarray  # normalised, padded with the mask sentinel when lengths vary: for Keras
    x_test_fit: np.ndarray
    y_train_fit: np.ndarray  # class ids, or normalised targets
    y_test_fit: np.ndarray


def prepare_inputs(ds, norm: tuple | None = None) -> Inputs:
    """`norm` (mean, std): an imported model's own input normalisation; None: the training split's."""
    # Normalise inputs outside the model (numpy) so the step model, and the device, see normalised x.
    mean, std = D.channel_norm(ds.train) if norm is None else norm
    for warning in D.flattened_channels(ds.train, mean, std):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    train_len, test_len, T = ds.train.lengths, ds.test.lengths, ds.max_len
    variable = len(set(train_len) | set(test_len)) > 1
    x_train_raw, x_test_raw = D.pad(ds.train.sequences, T), D.pad(ds.test.sequences, T)
    x_train = D.normalise_padded(x_train_raw, train_len, mean, std)
    x_test = D.normalise_padded(x_test_raw, test_len, mean, std)
    if max(np.abs(x_train).max(), np.abs(x_test).max()) > 1e6:  # also keeps data far from the mask sentinel
        raise UserError("some values are over a million standard deviations from their channel's mean",
                        "check the data for corrupt values or wrong units")
    # Padding for Keras is the mask sentinel, so real frames that normalise to exactly 0 are never masked.
    def fit_form(raw, lens, normed):
        return D.normalise_padded(raw, lens, mean, std, M.MASK_VALUE) if variable else normed

    t_norm = None
    y_train, y_test = ds.train.targets, ds.test.targets
    if ds.task == REGRESSION:
        t_norm = D.target_norm(y_train)
        y_train, y_test = (y_train - t_norm[0]) / t_norm[1], (y_test - t_norm[0]) / t_norm[1]
    return Inputs(ds, mean, std, t_norm, variable, train_len, test_len, x_test_raw, x_train, x_test,
                  fit_form(x_train_raw, train_len, x_train), fit_form(x_test_raw, test_len, x_test), y_train, y_test)


def compile_model(model, task: str, lr: float) -> None:

    keras = M.import_keras()
    if task == CLASSIFICATION:
        model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model.compile(keras.optimizers.Adam(lr), "mse")


def fit(model, inputs: Inputs, epochs: int, batch_size: int, quiet: bool, extra_callbacks=()) -> dict:
    """model.fit with the progress bar; returns the history as plain lists."""

    with M.native_stderr_captured() as console:  # TensorFlow logs harmless C++ "errors" during fit
        # The test split is only monitored for the curves in the report, never used to pick a model.
        result = model.fit(inputs.x_train_fit, inputs.y_train_fit, epochs=epochs, batch_size=batch_size,
                           shuffle=True, verbose=0, validation_data=(inputs.x_test_fit, inputs.y_test_fit),
                           callbacks=[make_progress_callback(epochs, quiet, console), *extra_callbacks])
    return {k: [float(v) for v in vals] for k, vals in result.history.items()}


def train_model(cfg, inputs: Inputs, epochs: int, batch_size: int, lr: float, seed: int, quiet: bool,
                extra_callbacks=()):
    """Train the Keras sequence model. Returns (model, history dict, seconds)."""

    M.import_keras().utils.set_random_seed(seed)  # same seed => same model
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    model = M.build_sequence_model(cfg, masked=inputs.variable)
    compile_model(model, cfg.task, lr)
    started = time.perf_counter()
    history = fit(model, inputs, epochs, batch_size, quiet, extra_callbacks)
    return model, history, time.perf_counter() - started


def fine_tune_on_int8_grid(model, cfg, inputs: Inputs, epochs: int, batch_size: int, lr: float, quiet: bool):
    """Int8-grid fine-tuning (host/training/qat.py). Returns (history, the metrics.json "int8_grid" block)."""

    def float_figures():
        final = np.asarray(model(inputs.x_test_fit, training=False))
        return task_figures(final, inputs.ds.test.targets, cfg.task, inputs.target_norm)

    before = float_figures()
    started = time.perf_counter()
    compile_model(model, cfg.task, lr)
    history = fit(model, inputs, epochs, batch_size, quiet,
                  [qat.make_grid_callback(M.import_keras(), qat.grid_variables(model))])
    block = {"epochs": epochs, "learning_rate": lr, "seconds": round(time.perf_counter() - started, 2),
             "float_before": before, "float_after": float_figures()}
    return history, block


def float_reference(model, cfg, inputs: Inputs):
    """Weights, the step model, and the float per-step outputs on the test split (numpy, batched)."""

    weights = M.extract_weights(model, cfg)
    step_model = M.build_step_model(cfg, weights)
    float_steps = M.run_numpy(weights, cfg, inputs.x_test, inputs.test_len)
    # Safety net: the numpy step must reproduce the trained Keras model (tests check this in detail).
    keras_final = np.asarray(model(inputs.x_test_fit, training=False))
    drift = float(np.abs(keras_final - M.final_outputs(float_steps, inputs.test_len)).max())
    if drift > 1e-3:
        raise RuntimeError(f"numpy step model disagrees with the Keras model by {drift:.2g}")
    return weights, step_model, float_steps


def int8_reference(step_model, weights, cfg, inputs: Inputs, n_samples: int, seed: int, quiet: bool):
    """Full-integer int8 TFLite step model and its per-step outputs on the test split."""


    samples = C.calibration_samples(weights, cfg, inputs.x_train, inputs.train_len, n_samples, seed)
    tflite_bytes = C.convert_int8(step_model, cfg, samples)
    with tqdm(total=len(inputs.test_len), unit="seq", desc="int8 evaluation", leave=False,
              **progress_options(quiet)) as bar:
        int8_steps = C.Int8Stepper(tflite_bytes, cfg).run(inputs.x_test, inputs.test_len, progress=bar)
    return tflite_bytes, int8_steps


def build_manifest(cfg, inputs: Inputs, seed: int, epochs: int, downsample: int) -> dict:
    """model.json (docs/artifacts.md)."""
    ds, t_norm = inputs.ds, inputs.target_norm
    return {
        "format": FORMAT_VERSION,
        "dataset": ds.name,
        "task": ds.task,
        **({"classes": ds.classes} if ds.task == CLASSIFICATION else {}),
        "input_dim": cfg.input_dim, "output_dim": cfg.output_dim,
        "cell": cfg.cell, "units": cfg.units, "layers": cfg.layers,
        **({"reset_after": cfg.reset_after} if cfg.cell == "gru" else {}),
        **({"channels": list(ds.channels)} if ds.channels else {}),
        "norm": {"mean": inputs.mean.tolist(), "std": inputs.std.tolist()},
        **({"target_norm": {"mean": t_norm[0].tolist(), "std": t_norm[1].tolist()}} if t_norm else {}),
        "seed": seed, "epochs": epochs,
        "max_len": int(ds.max_len),
        # Raw frames averaged into one model step; 1 = raw frames.
        "downsample": int(downsample),
        "model_hash": None,  # set by quantize
    }


@dataclass(frozen=True)
class TrainSettings:
    """How one configuration is trained: everything `train_configuration` needs besides data and model shape."""

    epochs: int
    batch_size: int
    lr: float
    grid_epochs: int = GRID_EPOCHS
    calibration_samples: int = 3000
    seed: int = 0
    downsample: int = 1
    quiet: bool = False


def training_defaults(dataset_name: str | None, data_path: str | None) -> dict:
    """epochs, batch_size, learning_rate (and downsample) for a bundled set or a --data file."""
    return dict(FILE_DEFAULTS) if data_path else dict(vars(BUNDLED[dataset_name]))


def check_kernel_bounds(ds) -> None:
    for what, value, fix in (("input channels", ds.input_dim, "select or merge channels"),
                             ("outputs", ds.output_dim, "merge classes or targets")):
        if value > MAX_DIM:
            raise UserError(f"the data has {value} {what}; the fixed-point kernel takes at most {MAX_DIM}", fix)


def train_configuration(inputs: Inputs, cfg, settings: TrainSettings, out: Path, force: bool = False,
                        epoch_callbacks=(), started: float | None = None) -> tuple[dict, dict]:
    """Train one configuration on prepared data into the artifact directory `out` (written atomically).

    The stages after loading: train, int8-grid fine-tune, float and int8 TFLite references, kernel export,
    report. `epoch_callbacks` are extra Keras callbacks for the training epochs (the search reports through
    one). `started` (perf_counter) is when the run began, for metrics.json's total_seconds (default: now).
    Returns (model.json manifest, metrics.json)."""
    started = time.perf_counter() if started is None else started
    say = (lambda *a: None) if settings.quiet else (lambda msg: print(msg, flush=True))
    ds = inputs.ds
    epochs, batch_size, lr = settings.epochs, settings.batch_size, settings.lr
    say(f"training {cfg.cell.upper()}({cfg.units}) x{cfg.layers} on {len(ds.train)} sequences "
        f"({ds.input_dim} channels, up to {ds.max_len} steps), {epochs} epochs ...")
    model, history, train_seconds = train_model(cfg, inputs, epochs, batch_size, lr, settings.seed, settings.quiet,
                                                epoch_callbacks)
    grid = None
    if settings.grid_epochs:
        say(f"int8-grid fine-tuning, {settings.grid_epochs} epochs (weights become the kernel's int8 values) ...")
        grid_history, grid = fine_tune_on_int8_grid(model, cfg, inputs, settings.grid_epochs, batch_size,
                                                    lr * GRID_LR_SCALE, settings.quiet)
        history = {k: history[k] + grid_history.get(k, []) for k in history}
    weights, step_model, float_steps = float_reference(model, cfg, inputs)

    say(f"converting the step model to int8 TFLite ({settings.calibration_samples} calibration samples) ...")
    tflite_bytes, int8_steps = int8_reference(step_model, weights, cfg, inputs, settings.calibration_samples,
                                              settings.seed, settings.quiet)


    y_test = ds.test.targets
    metrics = {
        "float": E.task_figures(M.final_outputs(float_steps, inputs.test_len), y_test, ds.task, inputs.target_norm),
        "tflite_int8": {**E.compare_outputs(float_steps, int8_steps, inputs.test_len, y_test, ds.task,
                                            inputs.target_norm), "runtime": C.runtime_name()},
        "params": int(model.count_params()), "macs_per_step": M.macs_per_step(cfg),
        "train_seconds": round(train_seconds, 2),
        **({"int8_grid": grid} if grid else {}),
    }
    manifest = build_manifest(cfg, inputs, settings.seed, epochs, settings.downsample)
    manifest["int8_grid_epochs"] = settings.grid_epochs  # the weights are on the kernel's int8 grid when > 0

    with staged_directory(out, force) as stage:
        artifact = Artifact.create(stage, manifest)
        artifact.write_keras_models(step_model, model)
        artifact.write_int8_tflite(tflite_bytes)
        artifact.write_weights(weights)
        artifact.write_test_split(x=inputs.x_test_raw, lengths=inputs.test_len.astype(np.int32), y=y_test,
                                  float_outputs=float_steps)
        write_json(stage / "history.json", history)

        notes = list(ds.notes) + [f"batch size {batch_size}, Adam learning rate {lr}",
                                  *([grid_note(grid)] if grid else [])]
        finish_artifact(artifact, manifest, metrics, history, inputs, (float_steps, int8_steps), tflite_bytes,
                        notes, started, settings.quiet, out.name)
    return manifest, metrics


def finish_artifact(artifact: Artifact, manifest: dict, metrics: dict, history: dict, inputs: Inputs, steps: tuple,
                    tflite_bytes: bytes, notes: list, started: float, quiet: bool, name: str) -> None:
    """What every artifact gets once its float model and int8 TFLite are written, trained here or imported: the
    fixed-point kernel (quantize/) and its figures, the verdict, per-class figures, metrics.json, report.md and
    report.html. `steps`: the float and int8 TFLite per-step outputs on the test split; `metrics` is completed."""
    float_steps, int8_steps = steps
    ds, y_test, stage = inputs.ds, inputs.ds.test.targets, artifact.path
    kernel = run_later_stages(stage, quiet, name)
    metrics["kernel"] = kernel["metrics"]
    metrics["verdict"] = verdict(check_thresholds(kernel["metrics"], ds.task))
    if ds.task == CLASSIFICATION:
        metrics["per_class"] = per_class_figures(
            {"float": float_steps, "int8 TFLite": int8_steps, "kernel": kernel["outputs"]},
            inputs.test_len, y_test, ds.classes)
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    artifact.write_metrics(metrics)
    notes = [*notes, f"int8 graph operators: {', '.join(C.op_names(tflite_bytes))}"]
    write_report(stage, manifest, metrics, history,
                 {"lengths": inputs.test_len, "y": y_test, "float_outputs": float_steps},
                 int8_steps, kernel["outputs"], notes)
    write_html(stage, name=name)


def grid_note(grid: dict) -> str:
    """The report's note on int8-grid fine-tuning: what it did and the float figures before and after."""
    return (f"int8-grid fine-tuning (host/training/qat.py): {grid['epochs']} more epochs at learning "
            f"rate {grid['learning_rate']:g} with the weights rounded to the kernel's int8 "
            f"grid; float test " + ", ".join(f"{k} {grid['float_before'][k]:.4f} -> {v:.4f}"
                                             for k, v in grid["float_after"].items()) +
            ". The float model in this report is the one after: "
            "its weight matrices are exactly the int8 values the board runs.")


def run(request: TrainRequest) -> int:
    """The whole `tinyrnn train`: check the request, load the data, train into the artifact directory, print
    the summary."""
    started = time.perf_counter()
    r = request
    # Stage messages go to stdout with the summary; stderr carries progress bars and errors only.
    say = (lambda *a: None) if r.quiet else (lambda msg: print(msg, flush=True))
    check_options(r)
    require_train_extra(bundled=r.data is None)

    dataset_name = r.dataset or (None if r.data else DEFAULT_DATASET)
    out = Path(r.out) if r.out else default_out_dir(dataset_name, r.data, r.cell, r.units, r.layers)
    check_destination(out, r.force)  # before spending a minute training

    say(f"loading {dataset_name or r.data} ...")
    ds = D.load_dataset(dataset_name, r.data, task=r.task, test_fraction=r.test_fraction,
                        seed=r.seed, downsample_factor=r.downsample, max_len=r.max_len,
                        group_column=r.group_column, channels=r.channels.split(",") if r.channels else None)
    if ds.channels:
        say(f"channels: {', '.join(ds.channels)} (the file's columns taken as inputs, in this order; --channels "
            "names them)")
    check_kernel_bounds(ds)
    defaults = training_defaults(dataset_name, r.data)
    settings = TrainSettings(epochs=r.epochs or defaults["epochs"],
                             batch_size=r.batch_size or defaults["batch_size"],
                             lr=r.lr or defaults["learning_rate"], grid_epochs=r.grid_epochs,
                             calibration_samples=r.calibration_samples, seed=r.seed,
                             downsample=r.downsample or defaults.get("downsample", 1), quiet=r.quiet)
    inputs = prepare_inputs(ds)

    reset_after = (True if r.reset_after is None else r.reset_after) if r.cell == "gru" else False
    cfg = M.ModelConfig(ds.input_dim, ds.output_dim, r.cell, r.units, r.layers, reset_after, ds.task)
    manifest, metrics = train_configuration(inputs, cfg, settings, out, r.force, started=started)
    print_summary(out, manifest, metrics)
    return 0


def figure(value: float) -> str:
    """Four decimals, but small errors keep their magnitude (2.6e-05, not 0.0000)."""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.1e}"


def print_summary(out: Path, manifest: dict, metrics: dict) -> None:
    """Float vs int8 TFLite vs the fixed-point kernel, side by side, then where the artifacts are."""
    key = "accuracy" if manifest["task"] == CLASSIFICATION else "rmse"
    columns = [("int8 TFLite", metrics["tflite_int8"])]
    if "kernel" in metrics:
        columns.append(("tinyrnn kernel", metrics["kernel"]))
    rows = [(key, key), ("argmax agreement", "argmax_agreement"), ("final max abs", "final_max_abs"),
            ("step max abs", "step_max_abs"), ("step mean abs", "step_mean_abs")]
    lines = [
        f"{manifest['dataset']}: {manifest['cell'].upper()}({manifest['units']}) x{manifest['layers']}, "
        f"{metrics['params']:,} params, {metrics['macs_per_step']:,} MACs/step; "
        f"float {key} {metrics['float'][key]:.4f}",
        f"  {'vs float':18s}" + "".join(f"{name:>16s}" for name, _ in columns),
    ]
    for label, field in rows:
        if all(field in block for _, block in columns):
            lines.append(f"  {label:18s}" + "".join(f"{figure(block[field]):>16s}" for _, block in columns))
    lines.append(f"  (int8 TFLite runtime: {metrics['tflite_int8']['runtime']}; kernel = its bit-exact Python twin)")
    if "kernel" in metrics:
        k = metrics["kernel"]
        lines.append(f"  kernel: {KERNEL_MODEL_FLASH} {k['flash_bytes']:,} B on {k.get('flash_core', 'cortex-m4')} "
                     f"(weights + kernel code + tables), RAM {k['ram_bytes']:,} B "
                     f"(state + scratch), model hash {k['model_hash']}")
    if "int8_grid" in metrics:
        grid = metrics["int8_grid"]
        lines.append(f"  int8-grid fine-tuning: {grid['epochs']} epochs; float {key} "
                     f"{grid['float_before'][key]:.4f} before, {grid['float_after'][key]:.4f} after "
                     "(the float model above is the one after)")
    lines += [f"  train {metrics['train_seconds']:.1f} s, total {metrics['total_seconds']:.1f} s",
              f"  verdict: {'PASS' if metrics['verdict']['passed'] else 'FAIL'} "
              f"({'; '.join(metrics['verdict']['reasons'])})",
              f"  artifacts: {out}/",
              f"  report: {out / REPORT_NAME} (open it in a browser; report.md has the same figures)"]
    print("\n".join(lines))
