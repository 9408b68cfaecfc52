"""Benchmark the kernels: executed instructions per timestep and per MAC on Cortex-M0/M3/M4/M7 and RV32IMC.

For GRU (reset_after=True) and LSTM at d=6/h=16, d=12/h=32 and d=16/h=64 (one layer, softmax head of 4),
each model is linked with a tiny driver into a flat image (arm-none-eabi-gcc -O2) and run in unicorn; a code
hook counts every executed instruction over N steps, and the outputs are checked equal to the twin's (so the
count is of a correct run). Counts are instructions, not cycles: no wait states, pipeline or branch costs are
modelled. Needs arm-none-eabi-gcc (riscv64-unknown-elf-gcc for rv32) and the bench extra (pip install
'tinyrnn[bench]').

With --micropython BOARD (an emulated MicroPython board, e.g. mpy-qemu-mps2-an385) and --model, it measures the
model inside MicroPython instead (host/device/micropython/bench.py): instructions per `model.step(x, out)` under QEMU
-icount for the natmod (the board's architecture, and armv6m where the firmware loads it), the user C module and
pure Python, the heap each costs, and the kit's bare-metal firmware on the same QEMU machine.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_model
from tinyrnn.quantize.errors import ToolMissing, UserError
from tinyrnn.quantize.targets import bench_tool
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.toolchain.bench import CELLS, SIZES, markdown, measure
from tinyrnn.quantize.twin.params import MAX_DIM

EXAMPLES = """\
  {prog}                                   # every cell, size and core (a few minutes)
  {prog} --targets m4 --cells gru --sizes 6x32 --profile
  {prog} --json > bench.json
  {prog} --micropython mpy-qemu-mps2-an385 --micropython mpy-qemu-mps2-an500 --model build/basic_motions-gru32
"""


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


def add_arguments(parser):
    parser.add_argument("--steps", type=at_least(1), default=4, help="timesteps counted per model, >= 1 (default 4)")
    parser.add_argument("--targets", type=_choice_list(list(build.BENCH_TARGETS)), default=list(build.BENCH_TARGETS),
                        help=f"comma-separated, from {','.join(build.BENCH_TARGETS)} (default all)")
    parser.add_argument("--cells", type=_choice_list(CELLS), default=list(CELLS),
                        help=f"comma-separated, from {','.join(CELLS)} (default all)")
    parser.add_argument("--sizes", type=_sizes, default=list(SIZES),
                        help="input dim x units, comma-separated, e.g. 12x32,16x64")
    parser.add_argument("--profile", action="store_true",
                        help="also count executed instructions per function (arm-none-eabi-nm ranges)")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    parser.add_argument("--micropython", action="append", metavar="BOARD",
                        help="measure --model inside MicroPython on this emulated MicroPython board (repeatable)")
    add_model(parser, note="with --micropython")


def run_micropython(args) -> int:
    from tinyrnn.host.device.micropython import bench as micropython_bench
    from tinyrnn.host.device.targets import load_target
    if not args.model or not (Path(args.model) / "kernel.bin").is_file():
        raise UserError("--micropython needs --model: an exported artifact directory (with kernel.bin)",
                        "add --model build/basic_motions-gru32")
    targets = [load_target(name) for name in args.micropython]
    boards = [t.board for t in targets]
    for t in targets:
        if not t.measures_micropython:
            b = t.board
            raise UserError(f"--micropython {b.name}: not an emulated MicroPython board",
                            "use one of the mpy-qemu-* boards (tinyrnn boards list)")
    results = {}
    for b in boards:
        figures = micropython_bench.measure(b, Path(args.model), steps=args.steps if args.steps > 4 else 1000)
        results[b.name] = figures
        if not args.json:
            print(f"\n{b.name} ({b.core}): instructions per step under QEMU -icount (not cycles), heap bytes")
            print("| implementation | kernel path | model.step(x, out) | bound step in a local | module heap | "
                  "model heap |")
            print("|---|---|---|---|---|---|")
            own = "natmod " + b.runtime["natmod_arch"]
            order = [own] + sorted(n for n in figures if n.startswith("natmod ") and n != own) + \
                ["cmodule", "python"] + [n for n in figures if n.startswith("bare metal")]
            for name in order:
                r = figures[name]
                cells = [r.get(k) for k in ("api", "bound", "module_bytes", "model_bytes")]
                print(f"| {name} | {r.get('kernel_path', '-')} | "
                      + " | ".join("-" if v is None else f"{v:,}" for v in cells) + " |")
            print(f"(tinyrnn_model itself: {figures['api_bytes']:,} B of heap)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


def run(args) -> int:
    if args.micropython:
        return run_micropython(args)
    for target in args.targets:
        if not build.toolchain_available(target):
            gcc = bench_tool(target, "gcc")
            raise ToolMissing(f"{gcc} not found (needed for --targets {target})",
                              f"apt-get install gcc-{gcc.removesuffix('-gcc')}")     # Debian's package names
    try:
        import unicorn  # noqa: F401
    except ImportError:
        raise ToolMissing("the bench runs the kernels in unicorn, which is not installed",
                          "pip install 'tinyrnn[bench]'") from None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in args.cells:
            for d, h in args.sizes:
                for target in args.targets:
                    rows.append(measure(cell, d, h, target, Path(tmp), args.steps, args.profile))
                    if not args.json:
                        r = rows[-1]
                        print(f"{cell:4s} d={d:2d} h={h:2d} {target}: {r['instructions_per_step']:7,d} instr/step "
                              f"{r['instructions_per_mac']:5.2f}/MAC  stack {r['stack_bytes']:,} B"
                              + (f"  ~{r['cycles_per_step_estimate']:,} cycles/step (estimate)"
                                 if "cycles_per_step_estimate" in r else ""), file=sys.stderr)
                        for name, n in r.get("per_function", {}).items():
                            print(f"    {name:28s} {n:7,d}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("\nExecuted instructions per timestep (unicorn, arm-none-eabi-gcc / riscv64-unknown-elf-gcc 12 -O2;"
          " instructions, not cycles; with --profile, ~cycles are an ESTIMATE from the trace,"
          " quantize/toolchain/cycles.py)\n")
    print(markdown(rows))
    print("\nJSON:")
    print(json.dumps(rows))
    return 0

