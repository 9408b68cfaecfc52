"""List the boards, show one board's data, or write the build inputs generated from it.

Boards are data: boards/<name>/board.toml (core, FPU, memory, clock, UART, counter, runner), validated on
load. `generate` writes board_config.h, link.ld, link_unbounded.ld and board.mk, and `fit` checks a linked image
against the board's flash and RAM (the firmware Makefile runs both).
"""
import json
from pathlib import Path

from tinyrnn.host.commands.base import write_output
from tinyrnn.host.device import fwsize
from tinyrnn.host.device.boards import board_names, generate, load_board
from tinyrnn.host.device.targets import load_target
from tinyrnn.quantize.errors import ToolMissing, UserError

EXAMPLES = """\
  {prog} list
  {prog} show qemu-mps2-an386
  {prog} generate qemu-mps2-an386 build/gen
  {prog} fit qemu-microbit build/fw/qemu-microbit/bringup/app.measure.elf --json size.json
"""


def add_arguments(p):
    sub = p.add_subparsers(dest="action", required=True, metavar="{list,show,generate,fit}")
    sub.add_parser("list", help="list the boards")
    show = sub.add_parser("show", help="print a board's data")
    show.add_argument("board")
    gen = sub.add_parser("generate", help="write the build inputs generated from a board's data")
    gen.add_argument("board")
    gen.add_argument("outdir")
    fit = sub.add_parser("fit", help="check a linked image against the board's flash and RAM")
    fit.add_argument("board")
    fit.add_argument("elf", type=Path)
    fit.add_argument("--label", default="none", help="what the image holds, named in the messages (e.g. the model)")
    fit.add_argument("--json", type=Path, help="write the figures here")


def run(args) -> int:
    if args.action == "list":
        for name in board_names():
            b = load_board(name)
            print(f"{name:27s} {b.core:10s} {b.clock_hz / 1e6:6.1f} MHz  {b.runner['kind']:5s}  {b.description}")
    elif args.action == "show":
        for line in load_target(args.board).describe():
            print(line)
    elif args.action == "generate":
        board = load_board(args.board)
        try:
            generate(board, args.outdir)
        except OSError as e:
            raise UserError(f"cannot write the build inputs into {args.outdir} ({e.strerror or e}: {e.filename})",
                            "give a folder you can write to (it is created if missing)") from None
    else:
        board = load_board(args.board)
        _must_be_elf(args.elf)
        try:
            sizes = fwsize.measure(args.elf)
        except FileNotFoundError as e:
            raise ToolMissing(str(e)) from None
        fwsize.check(board, args.label, sizes)
        print(fwsize.report_line(board, args.label, sizes))
        if args.json:
            record = dict(sizes, board=board.name, model=args.label,
                          flash_size=board.flash_size, ram_size=board.ram_size)
            write_output(args.json, json.dumps(record, indent=2) + "\n", "--json")
    return 0


def _must_be_elf(path: Path) -> None:
    """The image `fit` measures: an ELF file the linker wrote (nm would fail on anything else, with a traceback)."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise UserError(f"cannot read {path} ({e.strerror or e})",
                        "pass the linked image (app.elf, or app.measure.elf in the firmware's build folder)") from None
    if magic != b"\x7fELF":
        raise UserError(f"{path} is not an ELF file", "pass the linked image (app.elf, or app.measure.elf in the "
                        "firmware's build folder), not a .bin/.hex or another file")
