"""Build the firmware for a board and a model, and flash it (or start it in QEMU).

The build refuses a model that does not fit the board's flash or RAM, saying what it needs and what the board
has, so nothing is flashed then. Emulated boards run in the background under QEMU with a pty; the port is
printed and recorded in build/run/<board>.json until --stop (TINYRNN_RUN_DIR=DIR keeps these records in DIR
instead; `tinyrnn hwtest` keeps its own, so it never stops an emulator started here). Real boards are
programmed with OpenOCD or pyOCD (host/device/probe.py: a deadline on every run, the tool's cause in one line).
A board that is already running is replaced only with --force.
A real MicroPython board (`--board micropython --port PORT`) gets the model and the server copied with mpremote:
the natmod for its architecture (from sys.implementation._mpy), or pure Python with a warning naming the
expected speed; the server is then started and answers on that port (host/device/micropython/deploy.py).
What each kind of board does is its Target's (host/device/targets.py); this command only calls it.
"""

from tinyrnn.host.commands.options import add_board, add_model, add_port
from tinyrnn.host.defaults import DEFAULT_BOARD
from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import board_names
from tinyrnn.host.device.firmware import expected_hash
from tinyrnn.host.device.probe import list_probes
from tinyrnn.host.device.targets import load_target
from tinyrnn.quantize.errors import UserError
from tinyrnn.host.link.client import connect

EXAMPLES = """\
  {prog} --board qemu-mps2-an386 --model build/basic_motions-gru32   # prints the port
  {prog} --board nucleo-f446re --model build/basic_motions-gru32     # openocd or pyocd
  {prog} --board nrf52840-dk --probe 000683xxxxxx                    # one of several probes
  {prog} --list-probes                                               # what pyOCD and OpenOCD see
  {prog} --board qemu-microbit                                       # bring-up firmware (no model)
  {prog} --board micropython --port /dev/ttyACM0 --model build/basic_motions-gru32   # mpremote
  {prog} --board micropython --port /dev/ttyACM0 --model DIR --at-boot   # and a main.py: serves after a reset
  {prog} --list                                                      # running emulators
  {prog} --stop qemu-mps2-an386      (or --stop all)
"""


def add_arguments(p):
    add_board(p, what="board name", note=f"default {DEFAULT_BOARD}; tinyrnn boards list")
    add_model(p, note="omit for the bring-up firmware without a model")
    add_port(p, what="serial port of a real MicroPython board (--board micropython)")
    p.add_argument("--probe", metavar="ID", help="the debug probe to flash through, if several are attached "
                   "(its unique id or serial: --list-probes)")
    p.add_argument("--list-probes", action="store_true", help="list the debug probes pyOCD and OpenOCD see")
    p.add_argument("--at-boot", action="store_true", help="--board micropython: also write a main.py that starts "
                   "the server after every reset (Ctrl-C within 3 s of a reset gives the REPL back)")
    p.add_argument("--no-build", action="store_true", help="flash the ELF already built")
    p.add_argument("--force", action="store_true", help="replace an emulated board that is already running")
    p.add_argument("--list", action="store_true", help="list running emulated boards")
    p.add_argument("--stop", nargs="?", const="all", metavar="BOARD|all", help="stop emulated board(s)")
    p.add_argument("--verbose", action="store_true", help="show the build log")


def shake_hands(target, running, model_dir):
    """Once the board answers on a port, shake hands so a broken image is reported now rather than by the
    harness; whatever stops us (an error, Ctrl-C), no emulator is left running."""
    try:
        client = connect(running.port, expected_hash=expected_hash(model_dir))
        print(client.info.describe())
        client.transport.close()
    except BaseException:
        target.stop()
        raise


def run(args) -> int:
    if args.list:
        records = qemu.running()
        for r in records:
            print(f"{r.board:22s} {r.port:12s} pid {r.pid:<8d} {r.elf}")
        if not records:
            print("no emulated board running")
        return 0
    if args.list_probes:
        print("\n".join(list_probes()))
        return 0
    if args.stop:
        if args.stop != "all" and args.stop not in board_names():
            raise UserError(f"--stop {args.stop}: unknown board", f"use one of {', '.join(board_names())}, or all")
        names = [r.board for r in qemu.running()] if args.stop == "all" else [args.stop]
        for name in names:
            print(f"{name}: {'stopped' if qemu.stop(name) else 'not running'}")
        return 0

    target = load_target(args.board or DEFAULT_BOARD)
    expected_hash(args.model)         # no or a damaged model.json is one line before anything is built or started
    running = None if args.force else target.already_running()
    if running:
        raise UserError(f"{target.name} is already running on {running.port} (QEMU pid {running.pid})",
                        f"replace it with --force, or stop it: tinyrnn flash --stop {target.name}")
    target.check_options(args.model, args.port)
    if args.probe:
        target.choose_probe(args.probe)
    if args.at_boot:
        target.start_at_boot()
    image = target.built(args.model) if args.no_build else target.build(args.model, args.verbose)
    started = target.start(args.model, image, port=args.port)
    if started.port:
        shake_hands(target, started, args.model)
        print(started.summary())
    return 0
