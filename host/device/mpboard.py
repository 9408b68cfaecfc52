"""Boards whose runtime is MicroPython (board.toml [runtime] kind = "micropython"): flash = build, deploy, serve.

An emulated MicroPython board (`mpy-qemu-mps2-an386`): MicroPython v1.28.0's qemu port firmware, built by the
project (host/device/mpbuild.py; cached, it does not depend on the model), runs in QEMU under -icount. The model
and the server reach it as a ROMFS image that QEMU loads at the board's `romfs_address`: no traffic on the
serial line (mpremote mount would move every file over the UART the harness needs, and the qemu port has no
writable filesystem for mpremote cp), and it is how a board with a ROMFS partition holds them. The image holds
tinyrnn_server / tinyrnn_model / protocol_ids compiled to .mpy with the build's mpy-cross, and per [runtime]
module: tinyrnn_c.mpy + kernel_c.bin (natmod), kernel_c.bin (cmodule: tinyrnn_c is in the firmware) or
tinyrnn_mp + kernel.bin + tables.bin (python). The server is started over the raw REPL (Ctrl-A, code, Ctrl-D);
it turns Ctrl-C off and says it is ready; from then on the port speaks only the protocol.

Latency: the server times each step with time.ticks_us(); under -icount one virtual microsecond is exactly 1,000
executed instructions on the MPS2 boards, so INFO says "instructions" (resolution 1,000), not cycles.
"""
import shutil
import subprocess
import sys
import time
from pathlib import Path

import serial

from tinyrnn.host.device import mpbuild, qemu
from tinyrnn.host.errors import BuildFailed, TinyRNNError, ToolMissing
from tinyrnn.quantize.emit.micropython import write_c_image, write_tables
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel

COMMON_FILES = ("tinyrnn_server.py", "tinyrnn_model.py", "protocol_ids.py")
READY = b"tinyrnn-ready"
RAW_REPL_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


def stage(board, model_dir, out_dir):
    """The files the board gets, in out_dir: the server and the API as .mpy, the kernel per [runtime] module."""
    module = board.runtime["module"]
    out_dir = Path(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cross = mpbuild.mpy_cross()
    arch = ["-march=" + board.runtime["natmod_arch"]]
    for name in COMMON_FILES + (("tinyrnn_mp.py",) if module == "python" else ()):
        proc = subprocess.run([str(cross), *arch, "-o", str(out_dir / name.replace(".py", ".mpy")),
                               str(MICROPYTHON_DIR / name)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildFailed(f"mpy-cross {name}: {proc.stderr.strip()}")
    params = KernelParams.load(Path(model_dir))
    if module == "python":
        try:
            shutil.copy(KernelParams.check_kernel_bin(model_dir), out_dir / "kernel.bin")
        except UnsupportedModel as e:
            raise TinyRNNError(str(e)) from None
        write_tables(out_dir / "tables.bin")
    else:
        write_c_image(params, out_dir / "kernel_c.bin")
    if module == "natmod":
        shutil.copy(mpbuild.natmod(board.runtime["natmod_arch"]), out_dir / mpbuild.NATMOD_NAME)
    return out_dir


def romfs_image(src_dir, image):
    """A ROMFS image of src_dir (mpremote's builder; the .py files are already .mpy)."""
    proc = subprocess.run([sys.executable, "-m", "mpremote", "romfs", "--no-mpy", "-o", str(image), "build",
                           str(src_dir)], capture_output=True, text=True)
    if proc.returncode != 0 or not Path(image).is_file():
        if "No module named mpremote" in proc.stderr:
            raise ToolMissing("mpremote not installed: pip install mpremote==1.29.0")
        raise BuildFailed(f"ROMFS image: {(proc.stdout + proc.stderr).strip()[-300:]}")
    return Path(image)


def server_code(board, image_size):
    """What the raw REPL runs: mount the ROMFS image, start the server (never returns)."""
    implementation = "python" if board.runtime["module"] == "python" else "native"
    return (
        "import sys, os, vfs, uctypes\n"
        f"vfs.mount(vfs.VfsRom(uctypes.bytearray_at({board.runtime['romfs_address']:#x}, {image_size})), '/rom')\n"
        "sys.path.append('/rom')\n"
        "os.chdir('/rom')\n"
        "import tinyrnn_server\n"
        f"tinyrnn_server.main(board_name={board.name!r}, implementation={implementation!r}, "
        f"counter='instructions', cpu_clock_hz={board.clock_hz}, "
        f"ready=lambda s: sys.stdout.write({READY.decode()!r} + ' ' + s.model.implementation + '\\n'))\n")


def _read_until(port, marker, timeout):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += port.read(256)
    return data


def start_server(port_name, code, timeout=60.0):
    """Enter the raw REPL on port_name, run `code`, wait for its READY line. Returns the text the board sent."""
    with serial.Serial(port_name, 115200, timeout=0.2) as port:
        port.write(b"\r\x03\x03")                  # stop whatever runs
        _read_until(port, b">>> ", 10.0)
        port.write(b"\x01")                        # raw REPL
        seen = _read_until(port, RAW_REPL_PROMPT, 10.0)
        if RAW_REPL_PROMPT not in seen:
            raise TinyRNNError(f"{port_name}: no MicroPython raw REPL ({seen[-200:]!r})")
        port.write(code.encode() + b"\x04")
        seen = _read_until(port, READY, timeout)
        if READY not in seen:
            raise TinyRNNError(f"{port_name}: the tinyrnn server did not start: "
                               f"{seen.decode(errors='replace').strip()[-600:]}")
        return seen.decode(errors="replace")


def start(board, model_dir, run_dir=None):
    """Build (cached), deploy and start `board` with the model of `model_dir`; returns the qemu RunRecord."""
    firmware = mpbuild.qemu_firmware(board.runtime["port_board"], user_c_module=board.runtime["module"] == "cmodule")
    params = KernelParams.load(Path(model_dir))
    rom_dir = mpbuild.build_root() / "rom" / board.name / params.model_hash
    stage(board, model_dir, rom_dir / "files")
    image = romfs_image(rom_dir / "files", rom_dir / "romfs.img")
    loader = ["-semihosting", "-device",
              f"loader,file={image},addr={board.runtime['romfs_address']:#x},force-raw=on"]
    record = qemu.start(board, firmware, run_dir=run_dir, extra_args=loader)
    try:
        start_server(record.port, server_code(board, image.stat().st_size))
    except (TinyRNNError, serial.SerialException) as e:
        qemu.stop(board.name, run_dir)
        raise TinyRNNError(f"{board.name}: {e}") from None
    return record
