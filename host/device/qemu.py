"""Emulated boards: start a firmware in QEMU behind a pty, remember it, stop it.

QEMU runs in the background (its own session, so it outlives the command that started it) and prints
`char device redirected to /dev/pts/N`; that pty is the board's serial port. A record per running board,
`<run dir>/<board>.json` (pid, port, elf, command), lets `flash.py --list/--stop` and the test runner find
and stop exactly the emulators they started, by pid. The run directory is build/run/, or $TINYRNN_RUN_DIR, or
the `run_dir` a caller passes: host/commands/hwtest.py keeps its own (build/run-hwtest/), so a test run never stops, or
even sees, an emulator the user started with flash.py.

Nothing is lost before the host connects because the firmware only ever speaks when spoken to, so QEMU
can start running at once (no -S / QMP `cont` dance needed).

Timing: `-icount shift=0,align=off,sleep=on` makes every instruction take 1 ns of virtual time, so
SysTick readings are reproducible and convert exactly into executed instructions (docs/protocol.md). A board
waiting for a byte sleeps (WFI: firmware/platform/uart/uart_rx.h); sleep=on lets QEMU idle then, where sleep=off
would jump virtual time from one timer deadline (a SysTick wrap) to the next as fast as it can, a third of a host
core per idle board. No measured region contains a sleep, so the counts are the same either way.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


from tinyrnn.quantize.errors import TinyRNNError, ToolMissing

QEMU = "qemu-system-arm"                  # Cortex-M boards; each board names its own (Board.qemu_binary)
QEMU_PREFIX = "qemu-system-"
DEFAULT_RUN_DIR = Path("build") / "run"   # relative to the current directory
PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+)")


@dataclass
class RunRecord:
    board: str
    pid: int
    port: str
    elf: str
    log: str
    command: list


def qemu_command(board, elf, serial="pty", extra_args=()):
    """`serial`: "pty" (QEMU makes one and prints it) or a tty path (e.g. a pty a test made: /dev/pts/N)."""
    return [board.qemu_binary, "-M", board.runner["machine"], "-display", "none", "-monitor", "none",
            "-icount", "shift=0,align=off,sleep=on", "-serial", serial, "-kernel", str(elf),
            *board.runner.get("args", ()), *extra_args]


def qmp(socket_path, command, timeout=5.0):
    """Send one QMP command (e.g. "system_reset") to an emulator started with
    `-qmp unix:SOCKET,server=on,wait=off`; returns its reply. Resets keep the serial port open."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        stream = sock.makefile("rwb")
        json.loads(stream.readline())                       # the greeting
        for cmd in ("qmp_capabilities", command):
            stream.write(json.dumps({"execute": cmd}).encode() + b"\n")
            stream.flush()
            while True:
                reply = json.loads(stream.readline())
                if "return" in reply or "error" in reply:
                    break                                   # (events in between are skipped)
        if "error" in reply:
            raise TinyRNNError(f"QMP {command} failed: {reply['error']}")
        return reply["return"]


def run_directory(run_dir=None):
    """Where the run records live: `run_dir` if given, else $TINYRNN_RUN_DIR, else build/run/ (read per call,
    like BUILD_DIR in host/defaults.py firmware_build_dir)."""
    return Path(run_dir or os.environ.get("TINYRNN_RUN_DIR") or DEFAULT_RUN_DIR)


def _record_path(board_name, run_dir=None):
    return run_directory(run_dir) / f"{board_name}.json"


def _alive_qemu(pid):
    """True if pid is a live qemu-system-* (not a reused pid of some other program)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "Z"
    program = cmdline.split(b"\0", 1)[0].rsplit(b"/", 1)[-1]
    return program.startswith(QEMU_PREFIX.encode()) and state != "Z"


def start(board, elf, timeout=10.0, run_dir=None, extra_args=()):
    """Start `elf` on the emulated `board` (stopping a previous run of that board recorded in the same run
    directory); return its RunRecord. `extra_args` go to QEMU (a -qmp socket for resets, a MicroPython
    board's ROMFS loader)."""
    if shutil.which(board.qemu_binary) is None:
        raise ToolMissing(f"{board.qemu_binary} not found: apt-get install "
                          f"{'qemu-system-misc' if board.family == 'riscv' else 'qemu-system-arm'}")
    if not board.emulated:
        raise TinyRNNError(f"{board.name} is not an emulated board")
    stop(board.name, run_dir)
    directory = run_directory(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / f"{board.name}.log"
    cmd = qemu_command(board, elf, extra_args=extra_args)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = PTY_LINE.search(log_path.read_text(errors="replace"))
        if match:
            record = RunRecord(board.name, proc.pid, match.group(1), str(elf), str(log_path), cmd)
            _record_path(board.name, run_dir).write_text(json.dumps(asdict(record), indent=2) + "\n")
            return record
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    raise TinyRNNError(f"QEMU did not start for {board.name}: {log_path.read_text(errors='replace').strip()}")


def running(run_dir=None):
    """Records of the emulators still alive (records of dead ones are removed)."""
    records = []
    directory = run_directory(run_dir)
    for path in sorted(directory.glob("*.json")) if directory.exists() else []:
        try:
            record = RunRecord(**json.loads(path.read_text()))
        except FileNotFoundError:       # another process removed it (a dead emulator's record) just now
            continue
        except (ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if _alive_qemu(record.pid):
            records.append(record)
        else:
            path.unlink(missing_ok=True)
    return records


def follower(port, run_dir=None):
    """For a port an emulator recorded in the run directory: a function returning that board's port as its
    record says now (None while no live emulator of that board is recorded), so a client can reconnect to an
    emulator restarted on a new pty. None if no record names `port`."""
    board = next((r.board for r in running(run_dir) if r.port == port), None)
    if board is None:
        return None

    def current_port():
        record = next((r for r in running(run_dir) if r.board == board), None)
        return record.port if record else None
    return current_port


def stop(board_name, run_dir=None):
    """Stop the emulator recorded for board_name (in this run directory), if any. True if one was stopped."""
    path = _record_path(board_name, run_dir)
    if not path.exists():
        return False
    try:
        record = RunRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):     # corrupt record (as in running()): nothing we can safely kill
        path.unlink()
        return False
    path.unlink()
    if not isinstance(record.pid, int) or not _alive_qemu(record.pid):
        return False
    os.kill(record.pid, signal.SIGTERM)
    for _ in range(100):
        if not _alive_qemu(record.pid):
            break
        time.sleep(0.02)
    else:
        os.kill(record.pid, signal.SIGKILL)
    try:   # reap it if it is our own child (started by this process); otherwise its parent does
        os.waitpid(record.pid, 0)
    except ChildProcessError:
        pass
    return True
