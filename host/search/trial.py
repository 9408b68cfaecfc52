"""One trial of `tinyrnn search`: train a configuration into an artifact directory, measure it on the board's core,
and judge it against the budget. Runs inside a Ray Tune worker (any node of the cluster), or directly in tests.

Stages, all existing pieces: host/training/pipeline.train_configuration (train, int8-grid fine-tune, int8
TFLite reference, kernel export, report) -> quantize/toolchain/bench.measure_model (the kernel built for the
board's core with arm-none-eabi-gcc -O2 and run in unicorn on the test split's first sequence, every executed
instruction counted, outputs checked equal to the twin's) -> latency = instructions / clock: the time the step
would take at one instruction per cycle. It is an instruction count, not a cycle count (no wait states,
pipeline or branch costs are modelled), and every figure derived from it says so.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.host.search.space import CELLS, Trial, param_count
from tinyrnn.quantize import targets

MEASURE_STEPS = 8            # timesteps counted per trial (the count per step is the same every step)
CORE_TARGETS = {core.name: name for name, core in targets.bench_cores().items()}   # board core -> bench target


@dataclass(frozen=True)
class Budget:
    """What the board allows one model: latency per step (µs at the board's clock), flash and RAM bytes."""

    board: str
    core: str
    clock_hz: int
    max_latency_us: float | None
    max_flash: int
    max_ram: int

    @property
    def target(self) -> str:
        return CORE_TARGETS[self.core]


@dataclass(frozen=True)
class Job:
    """Everything a trial needs besides its point in the space (shipped to workers once, by Ray)."""

    inputs: object               # training.pipeline.Inputs (the data, prepared once by the driver)
    batch_size: int
    grid_epochs: int
    calibration_samples: int
    seed: int
    downsample: int
    budget: Budget
    trials_dir: str              # where the artifact directories go (a filesystem every node sees)


def judge(record: dict, budget: Budget) -> list[str]:
    """Why a measured trial is over the budget ([] = feasible)."""
    why = []
    if budget.max_latency_us is not None and record["latency_us"] > budget.max_latency_us:
        why.append(f"latency {record['latency_us']:,.0f} µs > {budget.max_latency_us:,.0f} µs")
    if record["flash_bytes"] > budget.max_flash:
        why.append(f"flash {record['flash_bytes']:,} B > {budget.max_flash:,} B")
    if record["ram_bytes"] > budget.max_ram:
        why.append(f"RAM {record['ram_bytes']:,} B > {budget.max_ram:,} B")
    return why


def measure_on_core(art: Path, budget: Budget, steps: int = MEASURE_STEPS) -> dict:
    """Instructions per step on the board's core for the exported model in `art`, and the flash it needs there."""
    from tinyrnn.quantize.toolchain.bench import measure_model
    from tinyrnn.quantize.artifact import Artifact
    from tinyrnn.quantize.twin.cells import TwinModel

    twin = TwinModel.from_artifact_dir(art)
    split = Artifact.open(art).test_split()
    x, length = split.x[0], int(split.lengths[0])
    x_q = twin.quantize_input(x[:max(1, min(steps, length))])
    with tempfile.TemporaryDirectory(prefix="tinyrnn-measure-") as tmp:
        row = measure_model(art, twin, x_q, budget.target, Path(tmp))
    return row


def model_flash(measured: dict) -> int:
    """Kernel+model flash on the core (quantize/toolchain/build.kernel_model_flash, the one definition)."""
    return measured["flash_bytes"]


def figures(trial: Trial, manifest: dict, metrics: dict, measured: dict, budget: Budget, seconds: dict) -> dict:
    """The flat record of one finished trial: what trials.csv holds."""
    task = manifest["task"]
    key = "accuracy" if task == "classification" else "rmse"
    kernel, tfl = metrics["kernel"], metrics["tflite_int8"]
    instructions = measured["instructions_per_step"]
    flash = model_flash(measured)
    formula = param_count(trial.cell, manifest["input_dim"], trial.units, trial.layers, manifest["output_dim"])
    record = {
        **trial.as_dict(), "name": trial.name, "status": "measured", "task": task, "metric": key,
        # Board-side figures: what runs on the device is the fixed-point kernel (its bit-exact twin here).
        "score": kernel[key] if task == "classification" else -kernel[key],
        f"kernel_{key}": kernel[key], f"float_{key}": metrics["float"][key], f"tflite_int8_{key}": tfl[key],
        "kernel_step_max_abs": kernel["step_max_abs"], "kernel_step_mean_abs": kernel["step_mean_abs"],
        "kernel_final_max_abs": kernel["final_max_abs"],
        **({"kernel_argmax_agreement": kernel["argmax_agreement"]} if "argmax_agreement" in kernel else {}),
        "params": metrics["params"], "params_formula": formula, "params_match": metrics["params"] == formula,
        "macs_per_step": metrics["macs_per_step"],
        "target": budget.target, "instructions_per_step": instructions,
        "latency_us": round(instructions / budget.clock_hz * 1e6, 1),
        "flash_bytes": flash, "weight_bytes": measured["model_bytes"],
        "code_bytes": measured["code_bytes"] + measured["table_bytes"], "ram_bytes": kernel["ram_bytes"],
        "model_hash": kernel["model_hash"],
        **seconds,
    }
    why = judge(record, budget)
    record["feasible"] = not why
    record["infeasible_because"] = "; ".join(why)
    return record


def run_trial(trial: Trial, job: Job, epoch_callback=None) -> dict:
    """Train, export, measure and judge one trial. `epoch_callback(epoch, logs)` is called after each training
    epoch (the Ray trainable reports through it, so ASHA can stop a poor trial early). Returns the record and
    writes it beside the artifact directory as <name>.json."""
    from tinyrnn.host.training import model as M
    from tinyrnn.host.training.pipeline import TrainSettings, train_configuration

    started = time.perf_counter()
    inputs = job.inputs
    kind, reset_after = CELLS[trial.cell]
    cfg = M.ModelConfig(inputs.ds.input_dim, inputs.ds.output_dim, kind, trial.units, trial.layers,
                        reset_after, inputs.ds.task)
    settings = TrainSettings(epochs=trial.epochs, batch_size=job.batch_size, lr=trial.lr,
                             grid_epochs=job.grid_epochs, calibration_samples=job.calibration_samples,
                             seed=job.seed, downsample=job.downsample, quiet=True)
    callbacks = [_keras_epoch_callback(epoch_callback)] if epoch_callback else []
    out = Path(job.trials_dir) / trial.name
    manifest, metrics = train_configuration(inputs, cfg, settings, out, force=True, epoch_callbacks=callbacks)
    trained = time.perf_counter()
    measured = measure_on_core(out, job.budget)
    done = time.perf_counter()
    record = figures(trial, manifest, metrics, measured, job.budget, {
        "train_seconds": metrics["train_seconds"],
        "pipeline_seconds": round(trained - started, 2),      # training, fine-tuning, int8 reference, export
        "measure_seconds": round(done - trained, 2),          # build for the core + count in unicorn
        "trial_seconds": round(done - started, 2)})
    record["artifact"] = str(out)
    record_search(out, trial, record, measured, job.budget)
    tmp = out.parent / f".{trial.name}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, out.parent / f"{trial.name}.json")
    return record


def record_search(art: Path, trial: Trial, record: dict, measured: dict, budget: Budget) -> None:
    """The trial's own artifact directory tells where it came from and gives its kernel sizes on the budget
    board's core (the search's figures, not the Cortex-M4 ones export records by default); report.html follows."""
    from tinyrnn.host.report.html import write_html
    from tinyrnn.quantize.artifact import Artifact

    artifact = Artifact.open(art)
    metrics = artifact.metrics() or {}
    metrics.setdefault("kernel", {}).update(
        weight_bytes=measured["model_bytes"], code_bytes=measured["code_bytes"] + measured["table_bytes"],
        flash_bytes=measured["flash_bytes"], flash_bytes_measured=True, flash_core=budget.core)
    metrics["search"] = {
        "trial": trial.name, "search_dir": str(art.parent.parent), "board": budget.board, "core": budget.core,
        "clock_hz": budget.clock_hz, "max_latency_us": budget.max_latency_us, "max_flash": budget.max_flash,
        "max_ram": budget.max_ram, "instructions_per_step": record["instructions_per_step"],
        "latency_us": record["latency_us"], "feasible": record["feasible"],
        "infeasible_because": record["infeasible_because"]}
    artifact.write_metrics(metrics)
    write_html(art)


def _keras_epoch_callback(fn):
    import keras

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            fn(epoch + 1, dict(logs or {}))

    return Report()

