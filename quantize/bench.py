"""Benchmark: executed instructions per timestep and per MAC of the kernels on Cortex-M0/M3/M4/M7.

    python -m quantize.bench [--json] [--profile] [--steps N] [--targets m0,m4] [--cells gru] [--sizes 12x32]

For GRU (reset_after=True) and LSTM at d=6/h=16, d=12/h=32 and d=16/h=64 (one layer, softmax head of 4),
each model is linked with a tiny driver into a flat image (arm-none-eabi-gcc -O2) and run in unicorn;
a code hook counts every executed instruction over N steps of real-ish input, and the outputs are
checked equal to the twin's (so the count is of a correct run). Counts are instructions, not cycles:
no wait states, pipeline or branch costs are modelled. MACs per step: GRU 3(dh + h^2) + hk,
LSTM 4(dh + h^2) + hk. Sizes from arm-none-eabi-size: kernel code (+ tables), model data (weights).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import build
from .kernel import MAX_DIM
from .testing import input_sets, make_model

SIZES = [(6, 16), (12, 32), (16, 64)]
CELLS = ["gru", "lstm"]
OUTPUTS = 4


def macs(cell: str, d: int, h: int, k: int = OUTPUTS) -> int:
    gates = 4 if cell == "lstm" else 3
    return gates * (d * h + h * h) + h * k


def measure(cell: str, d: int, h: int, target: str, workdir: Path, steps: int, profile: bool = False) -> dict:
    from .emulate import EmulatedModel
    name = f"{cell}_{d}_{h}"
    art = workdir / name
    if (art / "c" / "model_data.c").exists():
        from .twin import TwinModel
        twin = TwinModel.from_artifact_dir(art)
    else:
        art, twin = make_model(workdir, name, cell=cell, d=d, units=h, k=OUTPUTS, seed=d + h)
    emu = EmulatedModel(art / "c", twin.params, target, workdir / f"{name}_{target}")
    x_q = input_sets(twin, seed=0, n=2, steps=max(steps, 8))[0][1][0][:steps]
    emu.reset()
    y, count = emu.run(x_q, count=True)
    if not (y == twin.run(x_q)).all():
        raise RuntimeError(f"{name} on {target}: emulator outputs differ from the twin")
    phases = None
    if profile:
        emu.reset()
        phases = {name: round(n / steps) for name, n in emu.profile(x_q).items()}
    sizes = build.section_sizes(sorted((workdir / f"{name}_{target}").glob("tr_*.o"))
                                + [workdir / f"{name}_{target}" / "model_data.o"])
    tables = sizes.pop("tr_tables")["text"]
    model = sizes.pop("model_data")
    per_step = count / steps
    return {"cell": cell, "d": d, "h": h, "target": target, "macs": macs(cell, d, h),
            "instructions_per_step": round(per_step), "instructions_per_mac": round(per_step / macs(cell, d, h), 2),
            "code_bytes": sum(v["text"] for v in sizes.values()), "table_bytes": tables,
            "model_bytes": model["text"] + model["data"], **({"per_function": phases} if phases else {})}


def markdown(rows: list[dict]) -> str:
    targets = list(build.ARM_TARGETS)
    head = ("| cell | d | h | MACs/step | " + " | ".join(f"{t.upper()} instr/step (/MAC)" for t in targets)
            + " | M4 code | tables | weights |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for cell in CELLS:
        for d, h in SIZES:
            sel = {r["target"]: r for r in rows if (r["cell"], r["d"], r["h"]) == (cell, d, h)}
            if not sel:
                continue
            any_row = next(iter(sel.values()))
            cells = [f"{sel[t]['instructions_per_step']:,} ({sel[t]['instructions_per_mac']:.2f})" if t in sel
                     else "-" for t in targets]
            m4 = sel.get("m4", any_row)
            lines.append(f"| {cell.upper()} | {d} | {h} | {any_row['macs']:,} | " + " | ".join(cells)
                         + f" | {m4['code_bytes']:,} B | {m4['table_bytes']:,} B | {m4['model_bytes']:,} B |")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """A mistake is one line on stderr and exit 2, not the usage block (as host/boards.py CliParser)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _choice_list(choices):
    """argparse type: a comma-separated list, each item one of `choices` (argparse `choices=` per item)."""
    def parse(text: str) -> list:
        items = [item.strip() for item in text.split(",")]
        bad = [item for item in items if item not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"invalid choice {bad[0]!r} (choose from {', '.join(choices)})")
        return items
    return parse


def _sizes(text: str) -> list:
    """argparse type: `DxH[,DxH...]`, input dim and hidden units each 1..MAX_DIM."""
    out = []
    for item in text.split(","):
        parts = item.strip().split("x")
        if len(parts) != 2 or not all(p.isdigit() and 1 <= int(p) <= MAX_DIM for p in parts):
            raise argparse.ArgumentTypeError(f"{item.strip()!r} is not DxH with D and H in 1..{MAX_DIM} "
                                             "(e.g. 12x32,16x64)")
        out.append((int(parts[0]), int(parts[1])))
    return out


def main(argv=None) -> int:
    parser = _Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=_steps, default=4, help="timesteps counted per model, >= 1 (default 4)")
    parser.add_argument("--targets", type=_choice_list(list(build.ARM_TARGETS)), default=list(build.ARM_TARGETS),
                        help=f"comma-separated, from {','.join(build.ARM_TARGETS)} (default all)")
    parser.add_argument("--cells", type=_choice_list(CELLS), default=list(CELLS),
                        help=f"comma-separated, from {','.join(CELLS)} (default all)")
    parser.add_argument("--sizes", type=_sizes, default=list(SIZES),
                        help="input dim x units, comma-separated, e.g. 12x32,16x64")
    parser.add_argument("--profile", action="store_true",
                        help="also count executed instructions per function (arm-none-eabi-nm ranges)")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args = parser.parse_args(argv)
    if not build.arm_toolchain_available():
        print("error: arm-none-eabi-gcc not found", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in args.cells:
            for d, h in args.sizes:
                for target in args.targets:
                    rows.append(measure(cell, d, h, target, Path(tmp), args.steps, args.profile))
                    if not args.json:
                        r = rows[-1]
                        print(f"{cell:4s} d={d:2d} h={h:2d} {target}: {r['instructions_per_step']:7,d} instr/step "
                              f"{r['instructions_per_mac']:5.2f}/MAC", file=sys.stderr)
                        for name, n in r.get("per_function", {}).items():
                            print(f"    {name:28s} {n:7,d}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("\nExecuted instructions per timestep (unicorn, arm-none-eabi-gcc 12 -O2; instructions, not cycles)\n")
    print(markdown(rows))
    print("\nJSON:")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
