"""Quantize an artifact directory for the fixed-point kernel and generate its C (`tinyrnn export`).

Reads model.json + weights.npz (+ test_split.npz when present); writes kernel.npz, kernel.json,
kernel.bin and c/model_data.{h,c}; sets model_hash in model.json; evaluates the kernel's twin on the
test split against the float model's outputs.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, Artifact, provenance
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.twin.quantizer import quantize_model
from tinyrnn.quantize.reference.metrics import compare_outputs
from tinyrnn.quantize.twin.cells import TwinModel, scratch_words, state_words


FLASH_CORE = "cortex-m4"        # the core an artifact's kernel figures are measured for (a search: the board's)


def kernel_flash(model_c_dir: Path, core: str = FLASH_CORE) -> dict | None:
    """The kernel+model flash (build.kernel_model_flash) of the generated C on `core`, None without that core's
    cross compiler (or for a core the bench does not build for)."""
    from tinyrnn.quantize import targets

    bench = targets.CORES[core].bench
    if bench is None or not build.toolchain_available(bench):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return build.kernel_model_flash(build.build_arm_objects(model_c_dir, bench, Path(tmp)))


def flash_figures(params, model_c_dir: Path, core: str = FLASH_CORE) -> dict:
    """metrics.json's kernel flash figures: weights, kernel code + tables, their sum, and the core they are for."""
    from tinyrnn.quantize import targets

    flash = kernel_flash(model_c_dir, core)
    if flash is None:           # no toolchain: the model data by formula, the core's tables' size, no code
        weights = codegen.weight_bytes(params, targets.CORES[core].weight_layout)
        tables = codegen.table_bytes(targets.CORES[core].kernel_path)
        return {"weight_bytes": weights, "code_bytes": tables, "flash_bytes": weights + tables,
                "flash_bytes_measured": False, "flash_core": core}
    return {"weight_bytes": flash["weight_bytes"], "code_bytes": flash["code_bytes"] + flash["table_bytes"],
            "flash_bytes": flash["flash_bytes"], "flash_bytes_measured": True, "flash_core": core}


def export(artifact_dir, progress: bool = True, name: str | None = None) -> dict:
    """Quantize, write the kernel files and C, and evaluate. Returns {"metrics": {...}, "step_outputs": array}.

    `name` is the artifact's name recorded in the generated C (default: the directory's name; the training
    run passes the final name while it still writes into a temporary directory).
    """
    path = Path(artifact_dir)
    say = (lambda msg: print(f"[quantize] {msg}", file=sys.stderr)) if progress else (lambda msg: None)
    artifact = Artifact.open(path)
    manifest = artifact.manifest
    params = quantize_model(manifest, artifact.weights())
    say(f"{params.cell_kind} x{params.num_layers}, d={params.input_dim} units={params.units} "
        f"k={params.output_dim}, input Q{params.input_frac_bits}, hash {params.model_hash}")

    params.save(path)
    dataset = manifest.get('dataset', '?')
    source = f"{name or path.name} (dataset {dataset}, {manifest.get('cell')}{manifest.get('units')})"
    codegen.write_model(params, artifact.c_dir, source)
    artifact.write_manifest(manifest.replace(model_hash=params.model_hash))
    say("wrote kernel.npz, kernel.json, kernel.bin, c/model_data.h, c/model_data.c")

    metrics: dict = {}
    step_outputs = None
    if artifact.has(TEST_SPLIT_NAME):
        split = artifact.test_split()
        x, lengths, y_true, float_outputs = split.x, split.lengths, split.y, split.float_outputs
        twin = TwinModel(params)
        say(f"running the twin over {len(lengths)} test sequences")
        step_outputs = twin.dequantize_output(twin.run(twin.quantize_input(x)))
        step_outputs[np.arange(step_outputs.shape[1])[None, :] >= lengths[:, None]] = 0.0
        # Regression outputs stay normalised, as in the tflite_int8 block; target_norm converts the RMSE.
        metrics = compare_outputs(float_outputs.astype(np.float64), step_outputs, lengths, y_true,
                                  manifest.get("task", "classification"), manifest.get("target_norm"))

    metrics.update(flash_figures(params, artifact.c_dir))
    metrics["ram_bytes"] = 4 * (state_words(params) + scratch_words(params))
    metrics["model_hash"] = params.model_hash
    say("metrics: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in metrics.items()))
    metrics["made_by"] = provenance.code()       # the validation record: date, version, commit of this code
    recorded = artifact.metrics()
    if recorded is not None:    # a regenerated artifact keeps one story: its kernel figures follow its kernel
        recorded["kernel"] = metrics
        artifact.write_metrics(recorded)
    return {"metrics": metrics, "step_outputs": step_outputs}
