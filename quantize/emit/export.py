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

from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, Artifact
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.twin.quantizer import quantize_model
from tinyrnn.quantize.reference.metrics import compare_outputs
from tinyrnn.quantize.twin.cells import TwinModel, scratch_words, state_words


def kernel_code_bytes(model_c_dir: Path) -> int | None:
    """Flash bytes of the kernel code + tables for Cortex-M4 (arm-none-eabi-size), None without the toolchain."""
    if not build.arm_toolchain_available():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        objects = build.build_arm_objects(model_c_dir, "m4", Path(tmp))
        sizes = build.section_sizes(objects)
    return sum(v["text"] + v["data"] for name, v in sizes.items() if name != "model_data")


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

    code = kernel_code_bytes(artifact.c_dir)
    metrics["weight_bytes"] = codegen.weight_bytes(params)
    metrics["code_bytes"] = code if code is not None else codegen.table_bytes()
    metrics["flash_bytes"] = metrics["weight_bytes"] + metrics["code_bytes"]
    metrics["flash_bytes_measured"] = code is not None
    metrics["ram_bytes"] = 4 * (state_words(params) + scratch_words(params))
    metrics["model_hash"] = params.model_hash
    say("metrics: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in metrics.items()))
    recorded = artifact.metrics()
    if recorded is not None:    # a regenerated artifact keeps one story: its kernel figures follow its kernel
        recorded["kernel"] = metrics
        artifact.write_metrics(recorded)
    return {"metrics": metrics, "step_outputs": step_outputs}
