"""Run an example of an exported C library (`tinyrnn export --lib`) on an emulated bare-metal board, its output
on a pty, as a board's USB serial port would be: `tinyrnn record` (or any serial reader) opens that pty.

The examples print through semihosting (examples/stream/port_cortexm.c, port_riscv.c); QEMU sends semihosting
output to a character device when told to (`-chardev pty,id=out -semihosting-config ...,chardev=out`), so no UART
driver is needed. QEMU runs without -icount here: the examples pace themselves by a clock (examples/record/clock_*),
which then follows real time, as a sensor does. Output a board prints while no one has the pty open is lost, as
on a real serial line.

    elf = build_example(Path("my_lib"), load_board("qemu-mps2-an386"), "record")
    with start_example(load_board("qemu-mps2-an386"), elf) as board:
        ...  # board.port is /dev/pts/N

The board's name picks the build (its core, its machine); which boards the examples support is the
library's CMake's business (examples/stream/CMakeLists.txt: STREAM_BOARD).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.host.device.boards import load_board
from tinyrnn.quantize.errors import BuildFailed, TinyRNNError, ToolMissing, UserError

PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+) \(label example\)")
MARKER = "tinyrnn-library.json"
TOOLCHAIN_FILES = {"cortexm": "arm-none-eabi.cmake", "riscv": "riscv32-unknown-elf.cmake"}


def stream_board(board) -> str:
    """The library CMake's STREAM_BOARD for a board: its QEMU machine (mps2-an386, microbit, ...), riscv-virt."""
    if not board.emulated or board.runner.get("kind") != "qemu":
        raise UserError(f"{board.name} is not an emulated bare-metal board",
                        "use one of the qemu-* boards (tinyrnn boards list)")
    return "riscv-virt" if board.family == "riscv" else board.runner["machine"]


def build_example(library_dir, board, example: str = "record", passes: int = 0, build_dir=None) -> Path:
    """Cross-build the library's examples for `board` (CMake, strict warnings); the ELF of `example`.
    `passes`: examples/record's RECORD_PASSES (0: forever)."""
    library_dir = Path(library_dir)
    marker = library_dir / MARKER
    if not marker.is_file():
        raise UserError(f"{library_dir} is not an exported library (no {MARKER})",
                        "export one: tinyrnn export --lib DIR --model MODEL")
    if shutil.which("cmake") is None:
        raise ToolMissing("cmake not found: apt-get install cmake")
    name = json.loads(marker.read_text())["name"]
    build_dir = Path(build_dir or library_dir / f"build-{board.name}")
    toolchain = library_dir / "cmake" / TOOLCHAIN_FILES[board.family]
    configure = ["cmake", "-S", str(library_dir), "-B", str(build_dir), f"-DSTREAM_BOARD={stream_board(board)}",
                 f"-D{name.upper()}_STRICT=ON", f"-DRECORD_PASSES={passes}", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"]
    if board.family == "cortexm":
        configure.append(f"-DTINYRNN_CPU={board.core}")
    for cmd in (configure, ["cmake", "--build", str(build_dir), "--target", example, "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildFailed(f"{' '.join(cmd[:2])} for {board.name}: {(proc.stdout + proc.stderr).strip()[-800:]}")
    elf = build_dir / "examples" / example / f"{example}.elf"
    if not elf.is_file():
        raise BuildFailed(f"examples/{example} was not built for {board.name} (its CMake skips that board)")
    return elf


@dataclass
class RunningExample:
    """An example running in QEMU; its semihosting output on `port`. Stop it (or use `with`)."""
    board: str
    port: str
    pid: int
    log: Path
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop this QEMU (by its pid: its own process group) and wait for it."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def qemu_command(board, elf) -> list[str]:
    return [board.qemu_binary, "-M", board.runner["machine"], *board.runner.get("args", ()),
            "-display", "none", "-monitor", "none", "-serial", "none",
            "-chardev", "pty,id=example", "-semihosting-config", "enable=on,target=native,chardev=example",
            "-kernel", str(elf)]


def start_example(board, elf, timeout: float = 10.0, log_dir=None) -> RunningExample:
    """Start `elf` on the emulated `board`; returns once QEMU names the pty its output goes to."""
    if isinstance(board, str):
        board = load_board(board)
    stream_board(board)
    if shutil.which(board.qemu_binary) is None:
        raise ToolMissing(f"{board.qemu_binary} not found: apt-get install "
                          f"{'qemu-system-misc' if board.family == 'riscv' else 'qemu-system-arm'}")
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="tinyrnn-example-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{board.name}-example.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(qemu_command(board, elf), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    running = RunningExample(board.name, "", proc.pid, log, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = PTY_LINE.search(log.read_text(errors="replace"))
        if match:
            running.port = match.group(1)
            return running
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    running.stop()
    raise TinyRNNError(f"QEMU did not start the example on {board.name}: {log.read_text(errors='replace').strip()}")


# ---- a user script on an emulated MicroPython board -------------------------------------------------------

MICROPYTHON_PTY = re.compile(r"char device redirected to (/dev/pts/\d+) \(label serial0\)")
SCRIPT_STARTED = "tinyrnn-ready"      # what start_server waits for: printed just before the script's run()


def start_micropython_script(board, script, modules: dict[str, str] | None = None, passes: int = 0,
                             timeout: float = 60.0, work_dir=None) -> RunningExample:
    """Start `script` (a .py with a `run(passes)` function, e.g. firmware/micropython/examples/record_samples.py)
    on an emulated MicroPython board: the firmware (built once), a ROMFS image with the script, tinyrnn_model.py
    and `modules` ({module name: source}, e.g. recorded_signal), QEMU, then `import script; script.run(passes)`
    over the raw REPL. The script's output is on the returned pty. The script paces itself by time.ticks_us, a
    count of SysTick interrupts: QEMU runs under `-icount shift=auto`, which keeps virtual time near real time
    (without -icount a loaded host loses SysTick interrupts: ticks ran at 0.2x real time here; with the kit's
    shift=0 they count instructions)."""
    from tinyrnn.host.device.micropython import qemu_firmware
    from tinyrnn.host.device.micropython.raw_repl import start_server
    from tinyrnn.host.device.micropython.staging import romfs_image
    from tinyrnn.quantize.sources import MICROPYTHON_DIR

    if isinstance(board, str):
        board = load_board(board)
    if not getattr(board, "micropython", False) or not board.emulated:
        raise UserError(f"{board.name} is not an emulated MicroPython board",
                        "use one of the mpy-qemu-* boards (tinyrnn boards list)")
    script = Path(script)
    firmware = qemu_firmware.firmware(board)
    work = Path(work_dir or tempfile.mkdtemp(prefix="tinyrnn-mpy-script-"))
    files = work / "files"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir(parents=True)
    shutil.copyfile(MICROPYTHON_DIR / "tinyrnn_model.py", files / "tinyrnn_model.py")
    shutil.copyfile(script, files / script.name)
    for name, source in (modules or {}).items():
        (files / f"{name}.py").write_text(source)
    image = romfs_image(files, work / "romfs.img")
    cmd = [board.qemu_binary, "-M", board.runner["machine"], "-display", "none", "-monitor", "none",
           "-icount", "shift=auto", "-serial", "pty", *qemu_firmware.qemu_args(board, image),
           "-kernel", str(firmware)]
    log = work / f"{board.name}-script.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    running = RunningExample(board.name, "", proc.pid, log, proc)
    try:
        deadline = time.monotonic() + 10.0
        while not running.port and time.monotonic() < deadline and proc.poll() is None:
            match = MICROPYTHON_PTY.search(log.read_text(errors="replace"))
            running.port = match.group(1) if match else ""
            time.sleep(0.05)
        if not running.port:
            raise TinyRNNError(f"QEMU did not start {board.name}: {log.read_text(errors='replace').strip()}")
        code = (qemu_firmware.mount_code(board, image.stat().st_size) + f"import {script.stem}\n"
                f"print({SCRIPT_STARTED!r})\n{script.stem}.run({int(passes)})\n")
        start_server(running.port, code, timeout=timeout)
    except BaseException:
        running.stop()
        raise
    return running
