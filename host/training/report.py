"""report.md and its plots (plots/*.png) for an artifact directory.

Per-step outputs are compared form by form: float (the reference), int8 TFLite, and optionally the
fixed-point kernel ("kernel"), which later stages pass in with the same shape as float_outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.quantize.reference.metrics import confusion_matrix, final_outputs, per_sequence_max_abs

COLORS = {"float": "tab:blue", "int8 TFLite": "tab:orange", "kernel": "tab:green"}


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


def plot_training(history: dict, path: Path) -> None:
    plt = _pyplot()
    metric = "accuracy" if "accuracy" in history else None
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(10 if metric else 5, 3.5), squeeze=False)
    for ax, key in zip(axes[0], ["loss", metric]):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="test (monitor only)")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_confusions(forms: dict, lengths, y_true, classes: list[str], path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(forms), figsize=(3.2 + 3.2 * len(forms), 3.8), squeeze=False)
    for ax, (name, steps) in zip(axes[0], forms.items()):
        cm = confusion_matrix(y_true, final_outputs(steps, lengths).argmax(-1), len(classes))
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


def plot_regression(forms: dict, lengths, y_true_norm, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, steps in forms.items():
        ax.scatter(y_true_norm[:, 0], final_outputs(steps, lengths)[:, 0], s=8, label=name, color=COLORS[name])
    lo, hi = float(y_true_norm[:, 0].min()), float(y_true_norm[:, 0].max())
    ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8)
    ax.set_xlabel("true (normalised)")
    ax.set_ylabel("predicted (normalised)")
    ax.legend()
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
    """Per-step outputs of a few sequences: the true class's probability (or output 0), form by form."""
    plt = _pyplot()
    examples = pick_examples(lengths, y_true, task)
    fig, axes = plt.subplots(len(examples), 1, figsize=(8, 2.3 * len(examples)), squeeze=False)
    for ax, i in zip(axes[:, 0], examples):
        steps = np.arange(1, lengths[i] + 1)
        channel = int(y_true[i]) if task == "classification" else 0
        for name, out in forms.items():
            style = "-" if name == "float" else "--"
            ax.plot(steps, out[i, : lengths[i], channel], style, color=COLORS[name], label=name, lw=1.2)
        what = f"P({classes[channel]})" if task == "classification" else "output 0 (normalised)"
        ax.set_title(f"test sequence {i}: {what} after each step", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_error_histogram(forms: dict, lengths, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ref = forms["float"]
    for name, steps in forms.items():
        if name != "float":
            ax.hist(per_sequence_max_abs(ref, steps, lengths), bins=30, alpha=0.6, color=COLORS[name], label=name)
    ax.set_xlabel("largest |output - float output| over a sequence's steps")
    ax.set_ylabel("test sequences")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
    plot_training(history, plots / "training.png")
    if task == "classification":
        plot_confusions(forms, lengths, y_true, manifest["classes"], plots / "confusion.png")
        figures.append(("Confusion matrices (test split, output after the last step)", "confusion.png"))
    else:
        tn = manifest["target_norm"]
        y_norm = (np.asarray(y_true) - np.asarray(tn["mean"])) / np.asarray(tn["std"])
        plot_regression(forms, lengths, y_norm, plots / "regression.png")
        figures.append(("Predicted vs true (test split, normalised)", "regression.png"))
    plot_traces(forms, lengths, y_true, task, manifest.get("classes"), plots / "traces.png")
    figures.append(("Outputs after every step for a few test sequences", "traces.png"))
    plot_error_histogram(forms, lengths, plots / "errors.png")
    figures.append(("Per-sequence error versus float", "errors.png"))

    blocks = {"float": metrics["float"], "int8 TFLite": metrics["tflite_int8"]}
    if "kernel" in metrics:
        blocks["kernel"] = metrics["kernel"]
    rows = ["accuracy", "rmse", "argmax_agreement", "final_max_abs", "final_mean_abs", "step_max_abs",
            "step_mean_abs", "flash_bytes", "ram_bytes"]
    rows = [r for r in rows if any(r in b for b in blocks.values())]

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
        lines.append(f"| {r} | " + " | ".join(_fmt(b.get(r)) for b in blocks.values()) + " |")
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
