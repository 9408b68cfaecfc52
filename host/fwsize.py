"""Size report for a linked firmware, checked against the board's flash and RAM.

The firmware Makefile runs this on an ELF linked with room to spare (`link_unbounded.ld`), so that a model
that does not fit can still be measured: the refusal then says how much it needs and how much the board has.

    python -m host.fwsize --board qemu-microbit --model basic_motions-gru32 build/fw/.../app.measure.elf
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from host.boards import BoardError, load_board
from quantize.build import symbols

NM = "arm-none-eabi-nm"
SIZE = "arm-none-eabi-size"


class DoesNotFit(Exception):
    pass


def _sections(elf):
    out = subprocess.run([SIZE, "-A", str(elf)], check=True, capture_output=True, text=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("."):
            sections[parts[0]] = int(parts[1])
    return sections


def measure(elf):
    """Flash and RAM the image uses (from the linker script's __flash_used/__ram_used), and a breakdown."""
    if shutil.which(NM) is None:
        raise FileNotFoundError(f"{NM} not found: install gcc-arm-none-eabi")
    syms = symbols(elf)
    sec = _sections(elf)
    return {
        "flash_bytes": syms["__flash_used"],
        "ram_bytes": syms["__ram_used"],
        "text_bytes": sec.get(".text", 0) + sec.get(".ARM.exidx", 0),
        "data_bytes": sec.get(".data", 0),
        "bss_bytes": sec.get(".bss", 0),
        "stack_bytes": sec.get(".stack", 0),
    }


def check(board, model_name, sizes):
    """Raise DoesNotFit with a one-line explanation if the image exceeds the board."""
    problems = []
    for what, need, have in (("flash", sizes["flash_bytes"], board.flash_size),
                             ("RAM", sizes["ram_bytes"], board.ram_size)):
        if need > have:
            problems.append(f"{what} {need:,} B needed, board has {have:,} B ({need - have:,} B over)")
    if problems:
        raise DoesNotFit(f"model {model_name} does not fit {board.name}: " + "; ".join(problems)
                         + f" (RAM includes a {board.stack_size:,} B stack)")


def report_line(board, model_name, sizes):
    return (f"{board.name} / {model_name}: flash {sizes['flash_bytes']:,} of {board.flash_size:,} B "
            f"({100 * sizes['flash_bytes'] / board.flash_size:.1f}%), RAM {sizes['ram_bytes']:,} of "
            f"{board.ram_size:,} B ({100 * sizes['ram_bytes'] / board.ram_size:.1f}%; "
            f".data {sizes['data_bytes']:,} + .bss {sizes['bss_bytes']:,} + stack {sizes['stack_bytes']:,})")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host.fwsize", description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True)
    ap.add_argument("--model", default="none", help="model name for the messages")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("elf", type=Path)
    args = ap.parse_args(argv)
    try:
        board = load_board(args.board)
        sizes = measure(args.elf)
        check(board, args.model, sizes)
    except (BoardError, DoesNotFit, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report_line(board, args.model, sizes))
    if args.json:
        record = dict(sizes, board=board.name, model=args.model,
                      flash_size=board.flash_size, ram_size=board.ram_size)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
