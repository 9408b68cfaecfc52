"""What a search leaves in its directory: trials.csv/json, the Pareto plots, the GRU-vs-LSTM table at matched
budgets, the best feasible model's artifact directory (`best/`) and report.md.

Every trial is listed, whatever became of it: measured (feasible or over the budget, with the reason),
stopped early by ASHA, failed, or not run yet (interrupted or out of time; `--resume` runs it).
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np

from tinyrnn.host.search.space import CELLS, Trial
from tinyrnn.host.training.artifacts import write_json

MEASURED, STOPPED, ERROR, NOT_RUN = "measured", "stopped early", "error", "not run"
RULED_OUT = "ruled out"          # over the budget before training, from a stand-in of its shape (search/estimate.py)
FIRST_COLUMNS = ["index", "name", "status", "feasible", "infeasible_because", "cell", "units", "layers", "lr",
                 "epochs", "score"]
COSTS = {"instructions_per_step": "instructions per step", "flash_bytes": "kernel+model flash (bytes)"}


def collect(trials: list[Trial], trials_dir: Path, engine_result: dict | None,
            ruled_out: dict | None = None) -> list[dict]:
    """One record per trial: the measured record a trial wrote (<trials_dir>/<name>.json), the estimate that ruled
    it out (`ruled_out`: index -> {"estimate": figures, "because": reasons}), else what Ray knows."""
    last = (engine_result or {}).get("last", {})
    states = (engine_result or {}).get("status", {})
    records = []
    for t in trials:
        path = trials_dir / f"{t.name}.json"
        if ruled_out and t.index in ruled_out:
            why = ruled_out[t.index]
            records.append({**t.as_dict(), "name": t.name, "status": RULED_OUT, "feasible": False,
                            "infeasible_because": "; ".join(why["because"]),
                            **{f"estimated_{k}": v for k, v in why["estimate"].items()}})
            continue
        if path.is_file():
            records.append(json.loads(path.read_text()))
            continue
        rec = {**t.as_dict(), "name": t.name}
        result = last.get(t.index, {})
        if result.get("status") == "error":
            rec.update(status=ERROR, error=result.get("error", ""))
        elif states.get(t.index) == "TERMINATED" and "epoch" in result:
            rec.update(status=STOPPED, stopped_at_epoch=result["epoch"], epoch_score=result.get("epoch_score"))
        else:
            rec.update(status=NOT_RUN)
        records.append(rec)
    return records


def measured(records):
    return [r for r in records if r["status"] == MEASURED]


def dominates(a: dict, b: dict, cost: str) -> bool:
    return a["score"] >= b["score"] and a[cost] <= b[cost] and (a["score"] > b["score"] or a[cost] < b[cost])


def pareto_front(records: list[dict], cost: str) -> list[dict]:
    """The measured trials no other measured trial beats on both score and `cost`, by increasing cost."""
    pool = measured(records)
    front = [r for r in pool if not any(dominates(q, r, cost) for q in pool)]
    return sorted(front, key=lambda r: (r[cost], -r["score"]))


def best_feasible(records: list[dict]) -> dict | None:
    """Highest score among feasible trials; ties go to fewer instructions, then less flash."""
    pool = [r for r in measured(records) if r["feasible"]]
    return min(pool, key=lambda r: (-r["score"], r["instructions_per_step"], r["flash_bytes"]), default=None)


def budget_levels(records: list[dict], budget: dict) -> list[int]:
    """Instruction budgets for the matched comparison: thirds of the measured range, and the user's limit."""
    counts = sorted(r["instructions_per_step"] for r in measured(records))
    if not counts:
        return []
    levels = {counts[min(len(counts) - 1, max(0, round(q * len(counts)) - 1))] for q in (1 / 3, 2 / 3, 1.0)}
    if budget.get("max_latency_us") is not None:
        levels.add(int(budget["max_latency_us"] * budget["clock_hz"] / 1e6))
    return sorted(levels)


def matched_table(records: list[dict], budget: dict) -> list[dict]:
    """Per instruction budget and cell kind, the best trial within it (and within flash and RAM)."""
    rows = []
    cells = [c for c in CELLS if any(r["cell"] == c for r in records)]
    for level in budget_levels(records, budget):
        for cell in cells:
            pool = [r for r in measured(records) if r["cell"] == cell and r["instructions_per_step"] <= level
                    and r["flash_bytes"] <= budget["max_flash"] and r["ram_bytes"] <= budget["max_ram"]]
            best = min(pool, key=lambda r: (-r["score"], r["instructions_per_step"]), default=None)
            # a cell kind none of whose trials was measured (stopped, failed, not run) did not "not fit"
            rows.append({"level": level, "cell": cell, "trial": best,
                         "measured": any(r["cell"] == cell for r in measured(records))})
    return rows


# ----------------------------------------------------------------------------------------------- writing


def write_trials(records: list[dict], out: Path) -> None:
    write_json(out / "trials.json", records)
    columns = list(FIRST_COLUMNS)
    for r in records:
        columns += [k for k in r if k not in columns]
    tmp = out / ".trials.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(records)
    tmp.replace(out / "trials.csv")


def copy_best(best: dict | None, out: Path) -> Path | None:
    """best/ = a copy of the best feasible trial's artifact directory (replaced, never half-written)."""
    dest = out / "best"
    tmp = out / ".best.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if best is None:
        shutil.rmtree(dest, ignore_errors=True)
        return None
    shutil.copytree(best["artifact"], tmp)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _nice_log_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round values (1, 2, 5 x 10^k, then 1, 2, 3, 5, 7 when that is too few) in [lo, hi], at most `most`, evenly
    thinned: tick labels that cannot crowd each other on a log axis."""
    if not lo > 0 or not hi >= lo:
        return []
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10 ** k for k in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
                 for m in mantissas if lo <= m * 10 ** k <= hi]
        if len(ticks) >= 3:
            break
    step = int(np.ceil(len(ticks) / most)) or 1
    return ticks[::step]


def pareto_figure(records: list[dict], budget: dict, cost: str):
    """The figure of score against `cost` (a key of COSTS); the legend sits outside the axes, beside them, so
    it hides no point, and the cost axes carry a few round labels only."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.0f}")        # 4,000 rather than 4x10^3 on the log axes
    pool = measured(records)
    metric = pool[0]["metric"]
    sign = 1 if metric == "accuracy" else -1
    colours = {"gru": "tab:blue", "gru-v1": "tab:green", "lstm": "tab:red"}
    limit = {"instructions_per_step": (int(budget["max_latency_us"] * budget["clock_hz"] / 1e6)
                                       if budget.get("max_latency_us") is not None else None),
             "flash_bytes": budget["max_flash"]}[cost]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for cell, colour in colours.items():
        for feasible in (True, False):
            pts = [r for r in pool if r["cell"] == cell and r["feasible"] == feasible]
            if pts:
                ax.scatter([r[cost] for r in pts], [sign * r["score"] for r in pts], color=colour,
                           marker="o" if feasible else "x", s=36,
                           label=f"{cell}{'' if feasible else ' (over budget)'}")
    front = pareto_front(records, cost)
    ax.step([r[cost] for r in front], [sign * r["score"] for r in front], where="post", color="black",
            lw=1, alpha=0.6, label="Pareto front")
    if limit is not None:
        ax.axvline(limit, color="grey", ls="--", lw=1, label="budget")
    ax.set_xscale("log")
    costs = [r[cost] for r in pool] + ([limit] if limit is not None else [])
    lo, hi = min(costs) / 1.15, max(costs) * 1.15
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(_nice_log_ticks(lo, hi)))
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(f"board {metric} (fixed-point kernel, test split)")
    if cost == "instructions_per_step":
        ax.set_xlabel(f"executed instructions per step, {budget['core']} (unicorn; instructions, not cycles)")
        mhz = budget["clock_hz"] / 1e6
        top = ax.secondary_xaxis("top", functions=(lambda x, mhz=mhz: x / mhz, lambda us, mhz=mhz: us * mhz))
        top.set_xlabel(f"µs per step at {mhz:g} MHz, one instruction per cycle")
        top.xaxis.set_major_locator(FixedLocator(_nice_log_ticks(lo / mhz, hi / mhz)))
        top.xaxis.set_major_formatter(plain)
        top.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_xlabel(f"kernel+model flash: weights + kernel code + tables for {budget['core']} (bytes)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    ax.set_title(f"{budget['board']}: {metric} against {COSTS[cost]}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pareto(records: list[dict], budget: dict, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = []
    if not measured(records):
        return paths
    for cost in COSTS:
        fig = pareto_figure(records, budget, cost)
        path = out / "plots" / f"pareto_{cost.split('_')[0]}.png"
        path.parent.mkdir(exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _us(instructions: int, budget: dict) -> str:
    return f"{instructions / budget['clock_hz'] * 1e6:,.0f} µs"


def _fmt_score(r: dict) -> str:
    return f"{r['kernel_' + r['metric']]:.3f}"


def report(records: list[dict], budget: dict, options: dict, out: Path, best: dict | None, notes=()) -> Path:
    """report.md: the answer first (the best model and the plots), then the comparison, then every trial."""
    m = measured(records)
    metric = m[0]["metric"] if m else "accuracy"
    lat = (f"{budget['max_latency_us']:,.0f} µs per step" if budget.get("max_latency_us") is not None
           else "no latency limit")
    data = options['data'] or options['dataset']
    lines = [f"# Which model for {budget['board']}? — search of {len(records)} trials on {data}", "",
             f"Budget: {lat} at {budget['clock_hz'] / 1e6:g} MHz ({budget['core']}), "
             f"kernel+model flash {budget['max_flash']:,} B, "
             f"RAM {budget['max_ram']:,} B (the model's own: weights + kernel code + tables; state + scratch).", ""]
    if best:
        lines += [f"**Best feasible model: {best['name']}** — "
                  f"{best['cell'].upper()}({best['units']}) x{best['layers']}, "
                  f"board {metric} {_fmt_score(best)} (float {best['float_' + metric]:.3f}), "
                  f"{best['instructions_per_step']:,} instructions per step (≈ {best['latency_us']:,.0f} µs at "
                  f"{budget['clock_hz'] / 1e6:g} MHz), kernel+model flash {best['flash_bytes']:,} B on "
                  f"{budget['core']}, RAM {best['ram_bytes']:,} B. "
                  "Its artifact directory is `best/`: "
                  f"`tinyrnn flash --board {budget['board']} --model {out / 'best'}`.", ""]
    else:
        lines += ["**No trial fits the budget.** The figures below show what a larger budget buys.", ""]
    counts = {s: sum(r["status"] == s for r in records) for s in (MEASURED, RULED_OUT, STOPPED, ERROR, NOT_RUN)}
    feasible = sum(1 for r in m if r["feasible"])
    lines += [f"Trials: {counts[MEASURED]} measured ({feasible} feasible, {counts[MEASURED] - feasible} over budget), "
              f"{counts[RULED_OUT]} ruled out before training (a stand-in of the same shape, measured on "
              f"{budget['core']}, is over the budget), "
              f"{counts[STOPPED]} stopped early by ASHA, {counts[ERROR]} failed, {counts[NOT_RUN]} not run"
              + (" (run `tinyrnn search --resume` to finish them)" if counts[NOT_RUN] else "") + ".", "",
              "![accuracy against instructions](plots/pareto_instructions.png)", "",
              "![accuracy against flash](plots/pareto_flash.png)", ""]

    lines += ["## GRU vs LSTM at matched budgets", "",
              "For each instruction budget, the best trial of each cell kind that fits it (and the flash and RAM "
              "budget). `gru` is Keras' default GRU (reset_after=True), `gru-v1` the reset-before form. Parameters "
              "are Keras' count, checked against the formulas GRU 3(dh+h²+2h) (reset_after) or 3(dh+h²+h), LSTM "
              "4(dh+h²+h) per layer, plus the head hk+k.", "",
              f"| budget (instr/step) | cell | model | params (formula) | train s | board {metric} | float {metric} "
              "| instr/step | kernel+model flash B | RAM B | step max abs | argmax agree |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in matched_table(records, budget):
        r = row["trial"]
        if r is None:
            absent = "none fits" if row["measured"] else "not measured"
            lines.append(f"| ≤ {row['level']:,} ({_us(row['level'], budget)}) | {row['cell']} | — {absent} "
                         "| | | | | | | | | |")
            continue
        check = "✓" if r["params_match"] else f"✗ {r['params_formula']:,}"
        lines.append(f"| ≤ {row['level']:,} ({_us(row['level'], budget)}) | {row['cell']} | "
                     f"{r['units']}x{r['layers']} | {r['params']:,} {check} | "
                     f"{r['train_seconds']:.1f} | {_fmt_score(r)} | {r['float_' + metric]:.3f} | "
                     f"{r['instructions_per_step']:,} | {r['flash_bytes']:,} | {r['ram_bytes']:,} | "
                     f"{r['kernel_step_max_abs']:.2g} | {r.get('kernel_argmax_agreement', float('nan')):.3f} |")

    for cost, label in COSTS.items():
        lines += ["", f"## Pareto front: {metric} against {label}", "",
                  "| trial | feasible | board " + metric + " | " + label + " |", "|---|---|---|---|"]
        for r in pareto_front(records, cost):
            lines.append(f"| {r['name']} | {'yes' if r['feasible'] else 'no: ' + r['infeasible_because']} | "
                         f"{_fmt_score(r)} | {r[cost]:,} |")

    lines += ["", "## Every trial", "",
              f"| trial | status | board {metric} | float {metric} | instr/step | µs | kernel+model flash B | RAM B "
              "| train s | measure s | note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: r["index"]):
        if r["status"] == MEASURED:
            note = "" if r["feasible"] else "over budget: " + r["infeasible_because"]
            lines.append(f"| {r['name']} | {'feasible' if r['feasible'] else 'infeasible'} | {_fmt_score(r)} | "
                         f"{r['float_' + metric]:.3f} | {r['instructions_per_step']:,} | {r['latency_us']:,.0f} | "
                         f"{r['flash_bytes']:,} | {r['ram_bytes']:,} | {r['train_seconds']:.1f} | "
                         f"{r['measure_seconds']:.1f} | {note} |")
        else:
            note = {STOPPED: f"ASHA stopped it after epoch {r.get('stopped_at_epoch')} "
                             f"(validation score {r.get('epoch_score') or 0:.3f})",
                    ERROR: r.get("error", ""), NOT_RUN: "interrupted or out of time",
                    RULED_OUT: "not trained: its shape's estimate is over budget: "
                               + r.get("infeasible_because", "")}[r["status"]]
            lines.append(f"| {r['name']} | {r['status']} | | | | | | | | | {note} |")

    if m:
        train = sum(r["pipeline_seconds"] for r in m)
        meas = sum(r["measure_seconds"] for r in m)
        lines += ["", "## Time", "",
                  f"Measured trials spent {train:,.0f} s in the training pipeline (train, int8-grid fine-tune, int8 "
                  f"TFLite reference, kernel export) and {meas:,.0f} s measuring on the core "
                  f"({100 * meas / max(train + meas, 1e-9):.0f}% of the trials' time)."]
    lines += ["", "## Notes", "",
              "- Instruction counts are exact counts of executed instructions of the kernel built for the board's core "
              "(arm-none-eabi-gcc -O2), run in unicorn on the first test sequence, outputs checked equal to the "
              "bit-exact twin. They are not cycles: no wait states, pipeline or branch costs are modelled; the µs "
              "figures assume one instruction per cycle at the board's clock.",
              f"- The board {metric} is the fixed-point kernel's (its bit-exact twin's) on the data set's test split; "
              "the search ranks trials by it, so the best trial's figure is optimistic as an estimate of unseen data.",
              f"- Kernel+model flash is the one definition used by search, report.html and export: weights, kernel "
              f"code and activation tables as compiled for {budget['core']} (each object's text + data, before "
              "linking). RAM is the model's state and scratch. Firmware flash (the whole linked image: app, startup, "
              "kernel and model; `tinyrnn flash` and `tinyrnn boards fit` print it) is larger.",
              *[f"- {n}" for n in notes],
              "", f"Options: `{json.dumps(options)}`"]
    path = out / "report.md"
    tmp = out / ".report.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path
