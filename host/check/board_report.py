"""The hardware section of the report: per board (hw/<board>/hw_report.md with plots) and one page for all
boards (<artifact>/hw_report.md), built from the harness's results.json files."""

from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import BoardRun, FirmwareSize, board_runs


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_latency(results, path):
    run = BoardRun.of(results)
    lat = run.latency
    values = np.asarray(lat.per_step_values)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(values, bins=min(50, max(5, len(np.unique(values)))), color="#4472c4")
    for key, style in (("p50", "-"), ("p99", "--")):
        value = getattr(lat.per_step, key)
        ax.axvline(value, color="k", linestyle=style, linewidth=1, label=f"{key} {value:,.0f}")
    ax.set_xlabel(f"{lat.unit} per step")
    ax.set_ylabel("steps")
    ax.set_title(f"{run.board}: latency per step ({run.steps} steps)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_outputs(run, twin, split, results, path, names=None):
    """Left: one sequence, each output after every step: float (solid) and the board's difference from it.
    Right: every board output against float. Outputs are labelled with the class names when there are any."""
    n = len(run["lengths"])
    board = twin.dequantize_output(run["board"])
    ref = split["float_outputs"][:n]
    names = list(names) if names else [f"output {j}" for j in range(board.shape[-1])]
    valid = np.arange(board.shape[1])[None, :] < run["lengths"][:, None]
    plt = _plt()
    fig, (a, d, b) = plt.subplots(1, 3, figsize=(14, 3.6))
    length = int(run["lengths"][0])
    for j in range(board.shape[-1]):
        line, = a.plot(ref[0, :length, j], linewidth=1.3, label=names[j])
        d.plot(board[0, :length, j] - ref[0, :length, j], color=line.get_color(), linewidth=1, label=names[j])
    a.set_xlabel("step")
    a.set_ylabel("float output")
    a.set_title("test sequence 0: float output after each step", fontsize=10)
    d.axhline(0, color="gray", lw=0.6)
    d.set_xlabel("step")
    d.set_title("board minus float, same sequence", fontsize=10)
    if board.shape[-1] <= 8:
        a.legend(fontsize=7, ncol=2)
    b.scatter(ref[valid].ravel(), board[valid].ravel(), s=2, alpha=0.4)
    lo, hi = float(min(ref[valid].min(), board[valid].min())), float(max(ref[valid].max(), board[valid].max()))
    b.plot([lo, hi], [lo, hi], color="k", linewidth=0.8)
    b.set_xlabel("float model")
    b.set_ylabel("board")
    results = BoardRun.of(results)
    b.set_title(f"all steps: step max abs {results.fidelity['step_max_abs']:.2g}", fontsize=10)
    fig.suptitle(f"{results.board} / {results.model}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_lines(results):
    """The human summary the CLI prints (and the report reuses), of a BoardRun or the harness's results dict."""
    r = BoardRun.of(results)
    be, fid, lat = r.bit_exact, r.fidelity, r.latency
    unit = lat.unit
    clock = f"{r.cpu_clock_hz / 1e6:g} MHz" if r.cpu_clock_hz else "clock unknown"
    lines = [f"board {r.board} @ {clock}, model {r.model} "
             f"({r.cell.upper()} x{r.layers}, {r.units} units, hash "
             f"{r.model_hash}, kernel path {r.kernel_path}), "
             f"{r.sequences} sequences / {r.steps} steps"]
    if be.mismatched_values == 0:
        lines.append(f"bit-exact vs twin: OK, all {be.total_values:,} outputs identical")
    else:
        f = be.first_mismatch
        lines.append(f"bit-exact vs twin: FAIL, {be.mismatched_values:,} of {be.total_values:,} outputs differ "
                     f"({be.mismatched_steps} steps); first: sequence {f['sequence']} step {f['step']} "
                     f"output {f['output']}: board {f['board']}, twin {f['twin']}")
    checks = ", ".join(f"{name} {c['value']:.4g} ({c['op']} {c['limit']:g}) {'OK' if c['passed'] else 'FAIL'}"
                       for name, c in r.thresholds.items())
    keys = ("accuracy", "float_accuracy", "step_argmax_agreement", "final_mean_abs", "step_mean_abs",
            "rmse_vs_float", "relative_l2", "cosine_similarity")
    if r.inputs:      # the user's recordings: figures only (the targets are the test split's)
        lines.append(f"recordings {r.inputs['file']}, pre-processed as the C library does")
        checks = ", ".join(f"{k} {fid[k]:.4g}" for k in ("argmax_agreement", "final_max_abs", "step_max_abs")
                           if fid.get(k) is not None) + " (figures only: the kernel's targets are the test split's)"
        keys = ("accuracy", "float_accuracy", "rmse", "float_rmse", "labelled_sequences") + keys[2:]
    lines.append(f"fidelity vs float: {checks}")
    extra = [f"{k} {fid[k]:.4g}" for k in keys if fid.get(k) is not None]
    lines.append("  " + ", ".join(extra))
    ps, pu, qs = lat.per_step, lat.per_step_us, lat.per_sequence
    lines.append(f"latency per step ({unit}): p50 {ps.p50:,.0f}, p99 {ps.p99:,.0f}, max {ps.max:,.0f} "
                 f"= {pu.p50:.1f} / {pu.p99:.1f} / {pu.max:.1f} µs; per sequence p50 {qs.p50:,.0f}, "
                 f"max {qs.max:,.0f} {unit}")
    lines.append(f"  ({lat.note})")
    link = r.link
    if link:
        lines.append(f"link: {link['tries']:,} tries for {link['requests']:,} requests "
                     f"({link['retries']} retries: {link['timeouts']} timeouts, {link['damaged_replies']} damaged "
                     f"replies, {link['damaged_requests']} damaged requests), {link['resets']} board resets, "
                     f"{link['reruns']} sequences re-run, smallest chunk {link['chunk_steps_min']} steps")
    if r.stopped:
        lines.append(f"STOPPED after {r.sequences} sequences (verified above): {r.stopped}")
    size = r.firmware_size
    if size:
        lines.append(f"firmware: flash {size.flash_bytes:,} B of {size.flash_size:,}, "
                     f"RAM {size.ram_bytes:,} B of {size.ram_size:,} (incl. {size.stack_bytes:,} B stack)")
    rt = r.runtime
    if rt:
        lines.append(f"MicroPython: {rt.get('implementation')}, architecture {rt.get('architecture')}, "
                     f"heap: {rt.get('heap')}")
    stack = r.stack
    if stack:
        lines.append(f"stack: {stack['used']:,} of {stack['size']:,} B ever in use on the board (its painted "
                     f"stack's high-water mark over this run, interrupts included)")
    return lines


def board_section(results, plots=True):
    r = BoardRun.of(results)
    partial = f" (partial run: first {r.limit} sequences)" if r.limit else ""
    if r.inputs:
        partial += f", recordings {Path(r.inputs['file']).name}"
    lines = [f"## {r.board}{partial}", ""]
    lines += [f"- {line.strip()}" for line in summary_lines(r)]
    lines += ["", "| figure | value |", "|---|---|"]
    for key, value in r.fidelity.items():
        if value is not None:
            lines.append(f"| {key} | {value:.6g} |")
    lat = r.latency
    for key in ("per_step", "per_sequence"):
        s = getattr(lat, key)
        lines.append(f"| latency {key.replace('_', ' ')} ({lat.unit}) p50 / p99 / max | "
                     f"{s.p50:,.0f} / {s.p99:,.0f} / {s.max:,.0f} |")
    if plots:
        lines += ["", "![latency](latency_hist.png)", "", "![outputs](outputs_vs_float.png)"]
    return "\n".join(lines) + "\n"


def write_combined(model_dir):
    """<artifact>/hw_report.md: one table over every board with complete results, then each board's section."""
    model_dir = Path(model_dir)
    # partial (--limit) and stopped runs are not the board's figures
    runs = [run for _, run in board_runs(model_dir)]
    lines = [f"# {model_dir.name} on boards", "",
             "Written by host/check/harness.py. Latency on QEMU boards is executed instructions (SysTick under "
             "-icount, or minstret on RISC-V), not cycles; on silicon it is cycles (instructions with minstret).", "",
             "| board | bit-exact | argmax agree | final max abs | step max abs | per step p50 | unit | flash B "
             "| RAM B |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        size = r.firmware_size or FirmwareSize()
        agree = r.fidelity.get("argmax_agreement")
        lines.append(
            f"| {r.board} | {'yes' if r.bit_exact.mismatched_values == 0 else 'NO'} | "
            f"{agree if agree is not None else '-'} | "
            f"{r.fidelity['final_max_abs']:.4f} | {r.fidelity['step_max_abs']:.4f} | "
            f"{r.latency.per_step.p50:,.0f} | {r.latency.unit} | "
            f"{_or_dash(size.flash_bytes)} | {_or_dash(size.ram_bytes)} |")
    lines.append("")
    for r in runs:
        section = model_dir / "hw" / r.board / "hw_report.md"
        if section.is_file():
            text = section.read_text().replace("](", f"](hw/{r.board}/")
            lines += ["", text]
    (model_dir / "hw_report.md").write_text("\n".join(lines) + "\n")


def _or_dash(value):
    return "-" if value is None else value
