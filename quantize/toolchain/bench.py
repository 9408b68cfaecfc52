"""Benchmark: executed instructions per timestep and per MAC of the kernels on Cortex-M0/M3/M4/M7 and RV32IMC.

    tinyrnn bench [--json] [--profile] [--steps N] [--targets m0,m4] [--cells gru] [--sizes 12x32]

For GRU (reset_after=True) and LSTM at d=6/h=16, d=12/h=32 and d=16/h=64 (one layer, softmax head of 4),
each model is linked with a tiny driver into a flat image (arm-none-eabi-gcc or riscv64-unknown-elf-gcc -O2) and
run in unicorn;
a code hook counts every executed instruction over N steps of real-ish input, and the outputs are
checked equal to the twin's (so the count is of a correct run). Counts are instructions, not cycles:
no wait states, pipeline or branch costs are modelled. MACs per step: GRU 3(dh + h^2) + hk,
LSTM 4(dh + h^2) + hk. Sizes from arm-none-eabi-size: kernel code (+ tables), model data (weights).
"""
from __future__ import annotations

from pathlib import Path


from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.toolchain import cycles as estimate_cycles
from tinyrnn.quantize.toolchain.cases import input_sets, make_model
from tinyrnn.quantize.twin.cells import TwinModel

SIZES = [(6, 16), (12, 32), (16, 64)]
CELLS = ["gru", "lstm"]
OUTPUTS = 4


def macs(cell: str, d: int, h: int, k: int = OUTPUTS) -> int:
    gates = 4 if cell == "lstm" else 3
    return gates * (d * h + h * h) + h * k


def measure(cell: str, d: int, h: int, target: str, workdir: Path, steps: int, profile: bool = False) -> dict:
    name = f"{cell}_{d}_{h}"
    art = workdir / name
    if (art / "c" / "model_data.c").exists():
        twin = TwinModel.from_artifact_dir(art)
    else:
        art, twin = make_model(workdir, name, cell=cell, d=d, units=h, k=OUTPUTS, seed=d + h)
    x_q = input_sets(twin, seed=0, n=2, steps=max(steps, 8))[0][1][0][:steps]
    row = measure_model(art, twin, x_q, target, workdir / f"{name}_{target}", profile)
    row.pop("steps")
    per_step = row["instructions_per_step"]
    return {"cell": cell, "d": d, "h": h, "target": target, "macs": macs(cell, d, h), **row,
            "instructions_per_mac": round(per_step / macs(cell, d, h), 2)}


def measure_model(art: Path, twin: TwinModel, x_q, target: str, workdir: Path, profile: bool = False) -> dict:
    """Executed instructions per step of an exported model (art/c/model_data.c) on `target`, over x_q int16
    (steps, d) from the reset state, checked equal to the twin; and its code, table and weight bytes.

    Returns {"target", "steps", "instructions_per_step", "code_bytes", "table_bytes", "model_bytes"
    [, "per_function"]}. Instruction counts, not cycles (see the module docstring)."""
    from tinyrnn.quantize.toolchain.emulate import EmulatedModel   # unicorn: only the bench extra has it
    steps = len(x_q)
    emu = EmulatedModel(Path(art) / "c", twin.params, target, workdir)
    emu.reset()
    y, count = emu.run(x_q, count=True)
    if not (y == twin.run(x_q)).all():
        raise RuntimeError(f"{Path(art).name} on {target}: emulator outputs differ from the twin")
    phases = cycles = None
    if profile:
        emu.reset()
        phases = {name: round(n / steps) for name, n in emu.profile(x_q).items()}
        if target in estimate_cycles.CORES:
            counts, taken = emu.trace
            # the trace includes the driver's loop and call (a few instructions per step)
            cycles = round(estimate_cycles.estimate(target, counts, taken, estimate_cycles.disassemble(emu.elf))
                           / steps)
    flash = build.kernel_model_flash(sorted(workdir.glob("tr_*.o")) + [workdir / "model_data.o"])
    return {"target": target, "steps": steps, "instructions_per_step": round(count / steps),
            "code_bytes": flash["code_bytes"], "table_bytes": flash["table_bytes"],
            "model_bytes": flash["weight_bytes"], "flash_bytes": flash["flash_bytes"], "stack_bytes": emu.stack_bytes,
            **({"cycles_per_step_estimate": cycles} if cycles else {}),
            **({"per_function": phases} if phases else {})}


def markdown(rows: list[dict]) -> str:
    """The README table: per core measured instructions per step (per MAC), then ~estimated cycles when profiled;
    stack and sizes of the M4 build, or of the first core measured when the M4 was not."""
    targets = [t for t in build.BENCH_TARGETS if any(r["target"] == t for r in rows)]
    sizes_of = "m4" if "m4" in targets else targets[0]
    head = ("| cell | d | h | MACs/step | " + " | ".join(f"{t.upper()} instr/step (/MAC)" for t in targets)
            + f" | {sizes_of.upper()} stack | {sizes_of.upper()} code | tables | weights |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    models = []
    for r in rows:
        if (r["cell"], r["d"], r["h"]) not in models:
            models.append((r["cell"], r["d"], r["h"]))
    for cell, d, h in sorted(models, key=lambda m: (CELLS.index(m[0]) if m[0] in CELLS else 9, m[2], m[1])):
        sel = {r["target"]: r for r in rows if (r["cell"], r["d"], r["h"]) == (cell, d, h)}
        any_row = next(iter(sel.values()))
        cells = []
        for t in targets:
            if t not in sel:
                cells.append("-")
                continue
            text = f"{sel[t]['instructions_per_step']:,} ({sel[t]['instructions_per_mac']:.2f})"
            if "cycles_per_step_estimate" in sel[t]:
                text += f", ~{sel[t]['cycles_per_step_estimate']:,} cyc"
            cells.append(text)
        sized = sel.get(sizes_of, any_row)
        lines.append(f"| {cell.upper()} | {d} | {h} | {any_row['macs']:,} | " + " | ".join(cells)
                     + f" | {sized['stack_bytes']:,} B | {sized['code_bytes']:,} B | {sized['table_bytes']:,} B"
                       f" | {sized['model_bytes']:,} B |")
    return "\n".join(lines)
