"""Build the firmware for a board and a model, and flash it (or start it in QEMU).

The build refuses a model that does not fit the board's flash or RAM, saying what it needs and what the board
has, so nothing is flashed then. Emulated boards run in the background under QEMU with a pty; the port is
printed and recorded in build/run/<board>.json until --stop (TINYRNN_RUN_DIR=DIR keeps these records in DIR
instead; `tinyrnn hwtest` keeps its own, so it never stops an emulator started here). Real boards are
programmed with pyOCD or OpenOCD. A board that is already running is replaced only with --force.
A real MicroPython board (`--board micropython --port PORT`) gets the model and the server copied with mpremote:
the natmod for its architecture (from sys.implementation._mpy), or pure Python with a warning naming the
expected speed; the server is then started and answers on that port (host/device/mpdeploy.py).
"""

from tinyrnn.host.defaults import DEFAULT_BOARD
from tinyrnn.host.device import mpboard, mpdeploy, qemu
from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.host.device.firmware import build, elf_path, expected_hash
from tinyrnn.host.device.probe import flash_probe
from tinyrnn.quantize.errors import BuildFailed, UserError
from tinyrnn.host.link.client import connect

EXAMPLES = """\
  {prog} --board qemu-mps2-an386 --model build/basic_motions-gru32   # prints the port
  {prog} --board nucleo-f446re --model build/basic_motions-gru32     # pyocd or openocd
  {prog} --board qemu-microbit                                       # bring-up firmware (no model)
  {prog} --board micropython --port /dev/ttyACM0 --model build/basic_motions-gru32   # mpremote
  {prog} --list                                                      # running emulators
  {prog} --stop qemu-mps2-an386      (or --stop all)
"""


def add_arguments(p):
    p.add_argument("--board", default=None, help=f"board name (default {DEFAULT_BOARD}; tinyrnn boards list)")
    p.add_argument("--model", help="artifact directory (omit for the bring-up firmware without a model)")
    p.add_argument("--port", help="serial port of a real MicroPython board (--board micropython)")
    p.add_argument("--no-build", action="store_true", help="flash the ELF already built")
    p.add_argument("--force", action="store_true", help="replace an emulated board that is already running")
    p.add_argument("--list", action="store_true", help="list running emulated boards")
    p.add_argument("--stop", nargs="?", const="all", metavar="BOARD|all", help="stop emulated board(s)")
    p.add_argument("--verbose", action="store_true", help="show the build log")


def start_emulated(board, elf, model_dir):
    """Start QEMU, then shake hands once so a broken image is reported now rather than by the harness.
    A MicroPython board (elf None): its firmware, the model deployed as ROMFS, the server started."""
    record = mpboard.start(board, model_dir) if board.micropython else qemu.start(board, elf)
    try:
        client = connect(record.port, expected_hash=expected_hash(model_dir))
        print(client.info.describe())
        client.transport.close()
    except BaseException:             # whatever stops us (an error, Ctrl-C): no emulator is left running
        qemu.stop(board.name)
        raise
    return record


def run(args) -> int:
    if args.list:
        records = qemu.running()
        for r in records:
            print(f"{r.board:22s} {r.port:12s} pid {r.pid:<8d} {r.elf}")
        if not records:
            print("no emulated board running")
        return 0
    if args.stop:
        if args.stop != "all" and args.stop not in board_names():
            raise UserError(f"--stop {args.stop}: unknown board", f"use one of {', '.join(board_names())}, or all")
        names = [r.board for r in qemu.running()] if args.stop == "all" else [args.stop]
        for name in names:
            print(f"{name}: {'stopped' if qemu.stop(name) else 'not running'}")
        return 0

    board = load_board(args.board or DEFAULT_BOARD)
    expected_hash(args.model)         # no or a damaged model.json is one line before anything is built or started
    if board.emulated and not args.force:
        running = [r for r in qemu.running() if r.board == board.name]
        if running:
            raise UserError(f"{board.name} is already running on {running[0].port} (QEMU pid {running[0].pid})",
                            f"replace it with --force, or stop it: tinyrnn flash --stop {board.name}")
    if board.micropython and not board.emulated:
        if not args.port or not args.model:
            raise UserError(f"{board.name} is a real MicroPython board: it needs --port and --model",
                            f"e.g. tinyrnn flash --board {board.name} --port /dev/ttyACM0 --model ARTIFACT_DIR")
        implementation, arch = mpdeploy.deploy(board, args.port, args.model)
        client = connect(args.port, expected_hash=expected_hash(args.model))
        print(client.info.describe())
        client.transport.close()
        print(f"port: {args.port}  (the tinyrnn server, {implementation}{' ' + arch if arch else ''}; "
              "reset the board for its REPL)")
        return 0
    if args.port:
        raise UserError(f"--port is for real MicroPython boards; {board.name} is not one",
                        "drop --port (emulated boards get a pty; probe boards are found by their probe)")
    if board.micropython:
        if not args.model:
            raise UserError(f"{board.name} runs MicroPython: it needs a model", "add --model ARTIFACT_DIR")
        record = start_emulated(board, None, args.model)
        print(f"port: {record.port}  (QEMU pid {record.pid}; stop with: tinyrnn flash --stop {board.name})")
        return 0
    elf = elf_path(board.name, args.model) if args.no_build else build(board, args.model, args.verbose)
    if not elf.is_file():
        raise BuildFailed(f"{elf} does not exist", "build it first (drop --no-build)")
    if board.emulated:
        record = start_emulated(board, elf, args.model)
        print(f"port: {record.port}  (QEMU pid {record.pid}; stop with: tinyrnn flash --stop {board.name})")
    else:
        flash_probe(board, elf)
    return 0
