"""report.md and its plots (plots/*.png) for an artifact directory.

Per-step outputs are compared form by form: float (the reference), int8 TFLite, and optionally the
fixed-point kernel ("kernel"), which later stages pass in with the same shape as float_outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.host.report.tflite_memory import NOT_MEASURED, memory_labels, tflite_memory
from tinyrnn.quantize.reference.metrics import final_outputs, per_sequence_max_abs, target_norm_pair

COLORS = {"float": "tab:blue", "int8 TFLite": "tab:orange", "kernel": "tab:green"}


def _sklearn_metrics():
    """scikit-learn (the train extra), imported when a report is written, not when the CLI loads."""
    from sklearn import metrics

    return metrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.1e}"   # small errors keep their magnitude
    return str(v)


def plot_training(history: dict, path: Path, grid_epochs: int = 0) -> None:
    """Loss (log scale: it spans decades) and accuracy per epoch; the int8-grid fine-tuning epochs shaded."""
    plt = _pyplot()
    metric = "accuracy" if "accuracy" in history else None
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(10 if metric else 5, 3.5), squeeze=False)
    total = len(history["loss"])
    for ax, key in zip(axes[0], ["loss", metric]):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="test (monitor only)")
        if grid_epochs:
            ax.axvspan(total - grid_epochs + 0.5, total + 0.5, color="tab:green", alpha=0.12,
                       label=f"int8-grid fine-tuning ({grid_epochs} epochs)")
        if key == "loss":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(key + (" (log scale)" if key == "loss" else ""))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusions(forms: dict, lengths, y_true, classes: list[str], path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(forms), figsize=(3.2 + 3.2 * len(forms), 3.8), squeeze=False)
    for ax, (name, steps) in zip(axes[0], forms.items()):
        cm = _sklearn_metrics().confusion_matrix(y_true, final_outputs(steps, lengths).argmax(-1),
                                                 labels=np.arange(len(classes)))
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > cm.max() / 2 else "black")
        ticks = np.arange(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(ticks, classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_regression(forms: dict, lengths, y_true, target_norm, path: Path) -> None:
    """Predicted vs true target 0 in the target's own units (the RMSE's units), with the identity line."""
    plt = _pyplot()
    mean, std = target_norm_pair(target_norm)
    y = np.asarray(y_true, dtype=np.float64).reshape(len(lengths), -1)[:, 0]
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    for name, steps in forms.items():
        pred = final_outputs(steps, lengths)[:, 0] * std[0] + mean[0]
        ax.scatter(y, pred, s=8, label=name, color=COLORS[name], alpha=0.8)
    lo, hi = float(y.min()), float(y.max())
    ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8, label="true = predicted")
    ax.set_xlabel("true target")
    ax.set_ylabel("predicted (after the last step)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def pick_examples(lengths: np.ndarray, y_true: np.ndarray, task: str, count: int = 3) -> list[int]:
    """A few test sequences to draw: one per class where possible, longest first."""
    order = np.argsort(-lengths, kind="stable")
    if task != "classification":
        return list(order[:count])
    picked, seen = [], set()
    for i in order:
        if y_true[i] not in seen:
            picked.append(int(i))
            seen.add(y_true[i])
        if len(picked) == count:
            break
    return picked


def plot_traces(forms: dict, lengths, y_true, task: str, classes, path: Path) -> None:
    """A few test sequences, two panels each: the float model's output after every step (the true class's
    probability, or target 0), and each deployed form's difference from it (the lines would overlap)."""
    plt = _pyplot()
    examples = pick_examples(lengths, y_true, task)
    fig, axes = plt.subplots(len(examples), 2, figsize=(11, 2.4 * len(examples)), squeeze=False)
    for (ax, dax), i in zip(axes, examples):
        steps = np.arange(1, lengths[i] + 1)
        channel = int(y_true[i]) if task == "classification" else 0
        what = f"P({classes[channel]})" if task == "classification" else "output 0 (normalised)"
        reference = forms["float"][i, : lengths[i], channel]
        ax.plot(steps, reference, color=COLORS["float"], lw=1.2)
        ax.set_title(f"test sequence {i}: float {what} after each step", fontsize=9)
        ax.set_xlabel("step")
        for name, out in forms.items():
            if name != "float":
                dax.plot(steps, out[i, : lengths[i], channel] - reference, color=COLORS[name], label=name, lw=1)
        dax.axhline(0, color="gray", lw=0.6)
        dax.set_title(f"difference from float, {what}", fontsize=9)
        dax.set_xlabel("step")
        dax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_error_histogram(forms: dict, lengths, path: Path) -> None:
    """Largest error per test sequence, every form on one logarithmic axis with shared bins, so a form whose
    errors are a thousand times smaller is as visible as the others."""
    plt = _pyplot()
    ref = forms["float"]
    errors = {name: np.maximum(per_sequence_max_abs(ref, steps, lengths), 1e-7)
              for name, steps in forms.items() if name != "float"}
    everything = np.concatenate(list(errors.values()))
    bins = np.logspace(np.log10(everything.min()) - 0.1, np.log10(everything.max()) + 0.1, 40)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in errors.items():
        ax.hist(values, bins=bins, alpha=0.6, color=COLORS[name], label=f"{name} (max {values.max():.2g})")
    ax.set_xscale("log")
    ax.set_xlabel("largest |output - float output| over a sequence's steps (log scale; 1e-7 = exact)")
    ax.set_ylabel("test sequences")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def per_class_figures(forms: dict, lengths, y_true, classes: list[str]) -> dict:
    """Precision and recall per class of each form's final argmax (scikit-learn), for metrics.json."""
    figures = {}
    for name, steps in forms.items():
        precision, recall, _f1, _support = _sklearn_metrics().precision_recall_fscore_support(
            y_true, final_outputs(steps, lengths).argmax(-1), labels=np.arange(len(classes)), zero_division=0)
        figures[name] = {"precision": [round(float(v), 4) for v in precision],
                         "recall": [round(float(v), 4) for v in recall]}
    return {"classes": list(classes), "forms": list(forms), "figures": figures}


def write_report(out_dir: Path, manifest: dict, metrics: dict, history: dict, test_split: dict,
                 int8_outputs: np.ndarray, kernel_outputs: np.ndarray | None = None,
                 notes: list[str] | None = None) -> Path:
    """Write plots/*.png and report.md into out_dir; returns the report's path."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(exist_ok=True)
    lengths, y_true, task = test_split["lengths"], test_split["y"], manifest["task"]
    forms = {"float": test_split["float_outputs"], "int8 TFLite": int8_outputs}
    if kernel_outputs is not None:
        forms["kernel"] = kernel_outputs

    figures = [("Training curves", "training.png")]
    plot_training(history, plots / "training.png", manifest.get("int8_grid_epochs", 0))
    if task == "classification":
        plot_confusions(forms, lengths, y_true, manifest["classes"], plots / "confusion.png")
        figures.append(("Confusion matrices (test split, output after the last step)", "confusion.png"))
    else:
        plot_regression(forms, lengths, y_true, manifest["target_norm"], plots / "regression.png")
        figures.append(("Predicted vs true (test split, target units)", "regression.png"))
    plot_traces(forms, lengths, y_true, task, manifest.get("classes"), plots / "traces.png")
    figures.append(("Outputs after every step for a few test sequences, and differences from float", "traces.png"))
    plot_error_histogram(forms, lengths, plots / "errors.png")
    figures.append(("Per-sequence error versus float (log scale)", "errors.png"))

    # The int8 model's memory from its file, measured as report.html measures it (host/report/tflite_memory.py).
    blocks = {"float": metrics["float"], "int8 TFLite": {**metrics["tflite_int8"], **(tflite_memory(out_dir) or {})}}
    if "kernel" in metrics:
        blocks["kernel"] = metrics["kernel"]
    rows = ["accuracy", "rmse", "argmax_agreement", "final_max_abs", "final_mean_abs", "step_max_abs",
            "step_mean_abs", "flash_bytes", "ram_bytes"]
    rows = [r for r in rows if any(r in b for b in blocks.values())]
    memory = memory_labels(metrics.get("kernel", {}).get("flash_core", "cortex-m4"))

    m = manifest
    cell = m["cell"].upper() + (f" (reset_after={m['reset_after']})" if m["cell"] == "gru" else "")
    lines = [
        f"# {m['dataset']} — {cell} {m['units']} × {m['layers']} layer(s)",
        "",
        f"Task: {task}, {m['input_dim']} input channels, {m['output_dim']} outputs, "
        f"sequences up to {m['max_len']} steps, {len(lengths)} test sequences.  ",
        f"Parameters: {metrics['params']:,}; multiply-accumulates per step: {metrics['macs_per_step']:,}.  ",
        f"Trained {m['epochs']} epochs with seed {m['seed']} in {metrics['train_seconds']:.1f} s "
        f"(whole run {metrics['total_seconds']:.1f} s).  ",
        f"int8 runtime: {metrics['tflite_int8']['runtime']}.",
        "",
        "| figure | " + " | ".join(blocks) + " |",
        "|---|" + "---|" * len(blocks),
    ]
    for r in rows:
        lines.append(f"| {memory.get(r, r)} | "
                     + " | ".join(_fmt(b.get(r, NOT_MEASURED if r in memory else None)) for b in blocks.values())
                     + " |")
    lines += ["", "Differences are versus the float step model: *final* = output after each sequence's last step, "
              "*step* = every real step of every sequence (what a streaming user sees)."]
    if kernel_outputs is None:
        lines += ["The fixed-point kernel has not been exported for this directory yet."]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    for title, name in figures:
        lines += ["", f"## {title}", "", f"![{title}](plots/{name})"]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
