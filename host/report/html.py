"""report.html: the one page a person opens for a model — training, int8, kernel, and every board run.

Rendered from the artifact directory alone (model.json, metrics.json, plots/, hw/<board>/results.json and their
plots), so training and every later board run can write it again and it always tells the whole story. One
self-contained file: the plots are embedded as data URIs, nothing is fetched, it opens from disk.
"""
import base64
import html
from pathlib import Path

from tinyrnn.host.report.tflite_memory import NOT_MEASURED, memory_labels, tflite_memory
from tinyrnn.quantize.artifact import Artifact, BoardRun, board_runs, provenance, read_metrics

REPORT_NAME = "report.html"

# (title, file) of the training plots, in reading order; missing files are left out.
TRAINING_PLOTS = [
    ("Training curves (float, then int8-grid fine-tuning)", "training.png"),
    ("Confusion matrices on the test split (output after the last step)", "confusion.png"),
    ("Predicted vs true on the test split, in target units", "regression.png"),
    ("Outputs after every step, and each form's difference from float", "traces.png"),
    ("Per-sequence largest error versus float (log scale)", "errors.png"),
]
BOARD_PLOTS = [("Latency per step", "latency_hist.png"), ("Board outputs vs float", "outputs_vs_float.png")]

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #1a7f37; } .fail { background: #cf222e; } .none { background: #777; }
.badge { color: #fff; border-radius: 4px; padding: .15em .55em; font-weight: 600; font-size: .9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; } .muted { color: #666; } ul.reasons { margin: .2em 0; }
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _num(value) -> str:
    """Small errors keep their magnitude (2.6e-05, not 0.0000); counts get thousands separators."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) >= 1 else f"{value:.4f}"
        return f"{value:.2e}" if abs(value) < 1e-3 else f"{value:,.0f}"
    return _esc(value)


def _badge(passed, text=None) -> str:
    kind = "none" if passed is None else ("pass" if passed else "fail")
    label = text or {"pass": "PASS", "fail": "FAIL", "none": "not checked"}[kind]
    return f'<span class="badge {kind}">{_esc(label)}</span>'


def _table(header, rows, numeric_from=1) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = [f"<td>{_esc(row[0])}</td>"] + [
            f'<td class="num">{_num(v)}</td>' if i >= numeric_from else f"<td>{_esc(v)}</td>"
            for i, v in enumerate(row[1:], start=1)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _figure(path: Path, caption: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _training_section(model_dir: Path, manifest: dict, metrics: dict) -> list[str]:
    # The int8 model's memory is measured from its file (host/report/tflite_memory.py), the kernel's at export.
    blocks = {"float": metrics.get("float", {}),
              "int8 TFLite": {**metrics.get("tflite_int8", {}), **(tflite_memory(model_dir) or {})}}
    if "kernel" in metrics:
        blocks["tinyrnn kernel"] = metrics["kernel"]
    keys = ["accuracy", "rmse", "argmax_agreement", "final_max_abs", "final_mean_abs", "step_max_abs",
            "step_mean_abs", "flash_bytes", "ram_bytes"]
    # A column without a memory figure (the float model's, which no board runs) says so rather than stay empty.
    memory = memory_labels(metrics.get("kernel", {}).get("flash_core", "cortex-m4"))
    rows = [[memory.get(k, k), *(b.get(k, NOT_MEASURED if k in memory else None) for b in blocks.values())]
            for k in keys if any(k in b for b in blocks.values())]
    parts = ["<h2>Float, int8 TFLite and the kernel, side by side</h2>",
             f'<p class="muted">Versus the float step model on the test split: <em>final</em> = output after each '
             f"sequence's last step, <em>step</em> = every step's output (what a streaming user sees). int8 runtime: "
             f"{_esc(metrics.get('tflite_int8', {}).get('runtime', '?'))}; the kernel figures are its bit-exact "
             f"twin's, which every board must reproduce.</p>",
             _table(["figure", *blocks], rows)]
    per_class = metrics.get("per_class")
    if per_class:
        header = ["class"] + [f"{form} {what}" for form in per_class["forms"] for what in ("precision", "recall")]
        rows = [[name, *(per_class["figures"][form][what][i] for form in per_class["forms"]
                         for what in ("precision", "recall"))]
                for i, name in enumerate(per_class["classes"])]
        parts += ["<h3>Per class (test split, output after the last step)</h3>", _table(header, rows)]
    kernel = metrics.get("kernel", {})
    if "weight_bytes" in kernel:
        parts += ["<h3>Kernel memory</h3>", _table(["part", "bytes"], [
            ["weights, multipliers, biases (flash)", kernel["weight_bytes"]],
            [f"kernel code + activation tables (flash, {kernel.get('flash_core', 'cortex-m4')})",
             kernel.get("code_bytes")],
            [f"kernel+model flash, {kernel.get('flash_core', 'cortex-m4')} (the sum; the whole image is the "
             "firmware flash below)", kernel.get("flash_bytes")],
            ["state + scratch (RAM)", kernel.get("ram_bytes")]])]
    for title, name in TRAINING_PLOTS:
        parts.append(_figure(model_dir / "plots" / name, title))
    return parts


def _board_section(run_dir: Path, run: BoardRun, metrics: dict) -> list[str]:
    be, fid, lat = run.bit_exact, run.fidelity, run.latency
    exact = be.mismatched_values == 0
    unit = lat.unit
    macs = metrics.get("macs_per_step")
    per_step, per_step_us = lat.per_step, lat.per_step_us
    latency_rows = [[f"per step, {unit}", per_step.p50, per_step.p99, per_step.max],
                    ["per step, µs at the board's clock", per_step_us.p50, per_step_us.p99, per_step_us.max]]
    if macs:
        latency_rows.append([f"{unit} per multiply-accumulate ({macs:,} MACs/step)",
                             per_step.p50 / macs, per_step.p99 / macs, per_step.max / macs])
    parts = [f"<h2>Board {_esc(run.board)} {_badge(run.passed)}</h2>",
             f"<p>Kernel path <b>{_esc(run.kernel_path)}</b>, "
             f"{'CPU clock ' + _num(run.cpu_clock_hz / 1e6) + ' MHz' if run.cpu_clock_hz else 'clock unknown'}, "
             f"{run.sequences:,} test sequences / {run.steps:,} steps.</p>",
             *([f"<p>MicroPython: implementation <b>{_esc(rt.get('implementation'))}</b>, architecture "
                f"<b>{_esc(rt.get('architecture'))}</b>, heap <b>{_esc(rt.get('heap'))}</b>.</p>"]
               if (rt := run.runtime) else []),
             f"<p>Bit-exact with the host's twin: {_badge(exact, 'YES' if exact else 'NO')} "
             f"({be.total_values - be.mismatched_values:,} of {be.total_values:,} outputs identical)</p>",
             "<h3>Fidelity versus the float model</h3>",
             _table(["check", "value", "limit", "result"],
                    [[name, c["value"], f"{c['op']} {c['limit']:g}", "OK" if c["passed"] else "FAIL"]
                     for name, c in run.thresholds.items()], numeric_from=1),
             _table(["figure", "value"], [[k, v] for k, v in fid.items() if v is not None]),
             "<h3>Latency</h3>", _table(["", "p50", "p99", "max"], latency_rows),
             f'<p class="muted">{_esc(lat.note)}</p>']
    size = run.firmware_size
    if size:
        parts += ["<h3>Firmware memory</h3>", _table(["", "used", "board has"], [
            ["firmware flash (the whole image: app, kernel, weights, tables, read-only data)", size.flash_bytes,
             size.flash_size],
            ["RAM (.data + .bss + reserved stack)", size.ram_bytes, size.ram_size],
            ["  of which .data / .bss", f"{size.data_bytes:,} / {size.bss_bytes:,}", ""],
            ["  of which reserved stack", size.stack_bytes, ""]]
            + ([["  of which stack ever in use (measured on the board: painted stack's high-water mark)",
                 stack["used"], ""]] if (stack := run.stack) else []))]
    for title, name in BOARD_PLOTS:
        parts.append(_figure(run_dir / name, f"{run.board}: {title}"))
    return parts


def _record_section(metrics: dict) -> list[str]:
    """The validation record: when and by what the model was made, and the tools on the machine writing the page."""
    made = (metrics.get("kernel") or {}).get("made_by")
    made_text = (f"{made['date']}, tinyrnn {made['tinyrnn']}, code at git commit {made['git_commit']}" if made
                 else "not recorded (exported by a tinyrnn older than the record)")
    rows = [["model's kernel exported", made_text],
            ["this page written", f"{provenance.now()}, tinyrnn {provenance.tinyrnn_version()}, "
                                  f"code at git commit {provenance.git_commit()}"],
            *[[f"{name} (here, now)", version] for name, version in provenance.toolchains().items()]]
    int8 = (metrics.get("tflite_int8") or {}).get("runtime")
    if int8:
        rows.append(["int8 TFLite reference ran on", int8])
    return ['<h2 id="record">Validation record</h2>', _table(["what", "value"], rows, numeric_from=9)]


def _search_section(search: dict | None) -> list[str]:
    """Where a model from `tinyrnn search` came from, and how it stands against the budget it was searched for."""
    if not search:
        return []
    latency = (f"{search['max_latency_us']:,.0f} µs per step" if search.get("max_latency_us") is not None
               else "no latency limit")
    verdict = "within the budget" if search["feasible"] else f"over the budget: {search['infeasible_because']}"
    return ["<h2>From a search</h2>",
            f"<p>Trial <b>{_esc(search['trial'])}</b> of the search in <code>{_esc(search['search_dir'])}</code> "
            f"(its report.md lists every trial) for board <b>{_esc(search['board'])}</b> ({_esc(search['core'])} at "
            f"{search['clock_hz'] / 1e6:g} MHz): budget {latency}, kernel+model flash {search['max_flash']:,} B, "
            f"RAM {search['max_ram']:,} B; measured {search['instructions_per_step']:,} instructions per step "
            f"(≈ {search['latency_us']:,.0f} µs at one instruction per cycle), {_esc(verdict)}. The kernel sizes "
            f"below are for {_esc(search['core'])}.</p>"]


def write_html(model_dir, name: str | None = None) -> Path:
    """Render <model_dir>/report.html from the files in the directory; returns its path. `name` is the model's
    name (default: the directory's; training passes the final name while it writes into a staging directory)."""
    model_dir = Path(model_dir)
    manifest = Artifact.peek(model_dir) or {}
    metrics = read_metrics(model_dir) or {}
    runs = board_runs(model_dir)
    name = name or model_dir.name
    cell = str(manifest.get("cell", "?")).upper()
    verdict = metrics.get("verdict", {})
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>tinyrnn report: {_esc(name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{_esc(name)}: {_esc(manifest.get('dataset', '?'))}, {cell}({manifest.get('units', '?')}) "
             f"× {manifest.get('layers', '?')}</h1>",
             '<h2 id="verdict">Verdict</h2><ul>',
             f"<li>Kernel against the float model: {_badge(verdict.get('passed'))}"
             + ("<ul class='reasons'>" + "".join(f"<li>{_esc(r)}</li>" for r in verdict.get("reasons", []))
                + "</ul>" if verdict.get("reasons") else "") + "</li>"]
    for _, run in runs:
        warnings = (run.verdict.warnings if run.verdict else None) or []
        parts.append(f"<li>Board {_esc(run.board)}: {_badge(run.passed)} "
                     f"(bit-exact {'yes' if run.bit_exact.mismatched_values == 0 else 'NO'}, "
                     f"{run.latency.per_step.p50:,.0f} {_esc(run.latency.unit)} per step)"
                     + "".join(f"<br>warning: {_esc(w)}" for w in warnings) + "</li>")
    if not runs:
        parts.append("<li>Boards: none run yet (tinyrnn flash, then tinyrnn harness; or tinyrnn demo)</li>")
    parts.append("</ul>")
    task = manifest.get("task", "?")
    model_rows = [["task", task], ["input channels", manifest.get("input_dim")],
                  ["outputs", ", ".join(manifest.get("classes", [])) or manifest.get("output_dim")],
                  ["longest sequence (steps)", manifest.get("max_len")],
                  ["raw frames averaged per step", manifest.get("downsample", 1)],
                  ["parameters", metrics.get("params")],
                  ["multiply-accumulates per step", metrics.get("macs_per_step")],
                  ["epochs (+ int8-grid epochs)", f"{manifest.get('epochs')} + {manifest.get('int8_grid_epochs', 0)}"],
                  ["seed", manifest.get("seed")], ["model hash", manifest.get("model_hash")]]
    parts += ["<h2>Model and data</h2>", _table(["property", "value"], model_rows, numeric_from=1)]
    parts += _search_section(metrics.get("search"))
    parts += _record_section(metrics)
    if metrics:
        parts += _training_section(model_dir, manifest, metrics)
    for run_dir, run in runs:
        parts += _board_section(run_dir, run, metrics)
    parts += ['<p class="muted">Written by tinyrnn from the artifact directory; regenerated by every training '
              "and board run. Markdown (report.md, hw_report.md) and JSON (metrics.json, results.json) carry the "
              "same figures for diffs and CI.</p>", "</body></html>", ""]
    path = model_dir / REPORT_NAME
    tmp = path.with_name(f".{REPORT_NAME}.tmp")
    tmp.write_text("\n".join(p for p in parts if p), encoding="utf-8")
    tmp.replace(path)
    return path
