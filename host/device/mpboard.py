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
import dataclasses
import shutil
import subprocess
import sys
import time
from pathlib import Path

import serial

from tinyrnn.host.device import mpbuild, qemu
from tinyrnn.quantize.errors import BuildFailed, TinyRNNError, ToolMissing
from tinyrnn.quantize.emit.micropython import write_c_image, write_tables
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel

COMMON_FILES = ("tinyrnn_server.py", "tinyrnn_model.py", "protocol_ids.py")
# On a firmware with tinyrnn_c compiled in, a built-in module wins over a file of the same name: the natmod is
# then deployed under this name and put in sys.modules as tinyrnn_c before anything imports it.
NATMOD_ALIAS = "tinyrnn_natmod"
READY = b"tinyrnn-ready"
RAW_REPL_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


def with_cmodule(board):
    """True if the board's firmware has tinyrnn_c compiled in ([runtime] user_c_module; always for module =
    "cmodule"): one firmware then serves a natmod board and a user-C-module board alike."""
    return bool(board.runtime.get("user_c_module", board.runtime["module"] == "cmodule"))


def firmware(board):
    """The board's MicroPython firmware.elf (built once, cached: mpbuild.qemu_firmware)."""
    return mpbuild.qemu_firmware(board.runtime["port_board"], user_c_module=with_cmodule(board))


def natmod_file(board, arch=None):
    """The name the natmod gets on the board: tinyrnn_c.mpy, or NATMOD_ALIAS beside a compiled-in tinyrnn_c
    (a second architecture's natmod gets its arch as suffix)."""
    arch = arch or board.runtime["natmod_arch"]
    name = NATMOD_ALIAS if with_cmodule(board) or arch != board.runtime["natmod_arch"] else "tinyrnn_c"
    return name + ("" if arch == board.runtime["natmod_arch"] else "_" + arch) + ".mpy"


def stage(board, model_dir, out_dir, implementations=None, extra_natmods=(), runtime=None, compiled=True):
    """The files the board gets, in out_dir: the server and the API as .mpy (as .py with compiled=False), and the
    kernel for each of `implementations` (default: the board's [runtime] module): natmod, cmodule, python.
    `extra_natmods`: more natmod architectures (an older one the firmware also loads, e.g. armv6m on an M3),
    named by natmod_file. `runtime`: instead of the board's [runtime] (a real board's, as probed)."""
    if runtime is not None:
        board = dataclasses.replace(board, runtime=runtime)
    modules = set(implementations or (board.runtime["module"],))
    out_dir = Path(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    arch = ["-march=" + board.runtime["natmod_arch"]] if board.runtime.get("natmod_arch") else []
    for name in COMMON_FILES + (("tinyrnn_mp.py",) if "python" in modules else ()):
        if not compiled:
            shutil.copy(MICROPYTHON_DIR / name, out_dir / name)
            continue
        proc = subprocess.run([str(mpbuild.mpy_cross()), *arch, "-o", str(out_dir / name.replace(".py", ".mpy")),
                               str(MICROPYTHON_DIR / name)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildFailed(f"mpy-cross {name}: {proc.stderr.strip()}")
    params = KernelParams.load(Path(model_dir))
    if "python" in modules:
        try:
            shutil.copy(KernelParams.check_kernel_bin(model_dir), out_dir / "kernel.bin")
        except UnsupportedModel as e:
            raise TinyRNNError(str(e)) from None
        write_tables(out_dir / "tables.bin")
    if modules & {"natmod", "cmodule"}:
        write_c_image(params, out_dir / "kernel_c.bin")
    if "natmod" in modules:
        shutil.copy(mpbuild.natmod(board.runtime["natmod_arch"]), out_dir / natmod_file(board))
    for extra in extra_natmods:
        shutil.copy(mpbuild.natmod(extra), out_dir / natmod_file(board, extra))
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


def qemu_args(board, image=None):
    """QEMU arguments for MicroPython's qemu port: semihosting (the port makes semihosting calls; without it the
    firmware stops at the first one, silently) and the ROMFS image at the board's address."""
    loader = ["-device", f"loader,file={image},addr={board.runtime['romfs_address']:#x},force-raw=on"] if image else []
    return ["-semihosting", *loader]


def mount_code(board, image_size):
    """Mount the ROMFS image QEMU loaded at /rom, make it the current directory and put it on sys.path."""
    return ("import sys, os, vfs, uctypes\n"
            f"vfs.mount(vfs.VfsRom(uctypes.bytearray_at({board.runtime['romfs_address']:#x}, {image_size})), "
            "'/rom')\n"
            "sys.path.append('/rom')\n"
            "os.chdir('/rom')\n")


def server_code(board, image_size):
    """What the raw REPL runs: mount the ROMFS image, start the server (never returns)."""
    implementation = "python" if board.runtime["module"] == "python" else "native"
    alias = (f"import {NATMOD_ALIAS}\nsys.modules['tinyrnn_c'] = {NATMOD_ALIAS}\n"
             if board.runtime["module"] == "natmod" and with_cmodule(board) else "")
    return (
        mount_code(board, image_size) + alias +
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


def _raw_repl(port, port_name):
    """Stop whatever runs on the board and enter its raw REPL."""
    port.write(b"\r\x03\x03")                    # stop whatever runs
    _read_until(port, b">>> ", 10.0)
    port.write(b"\x01")                            # raw REPL
    seen = _read_until(port, RAW_REPL_PROMPT, 10.0)
    if RAW_REPL_PROMPT not in seen:
        raise TinyRNNError(f"{port_name}: no MicroPython raw REPL ({seen[-200:]!r})")


def start_server(port_name, code, timeout=60.0):
    """Enter the raw REPL on port_name, run `code`, wait for its READY line. Returns the text the board sent."""
    with serial.Serial(port_name, 115200, timeout=0.2) as port:
        _raw_repl(port, port_name)
        port.write(code.encode() + b"\x04")
        seen = _read_until(port, READY, timeout)
        if READY not in seen:
            raise TinyRNNError(f"{port_name}: the tinyrnn server did not start: "
                               f"{seen.decode(errors='replace').strip()[-600:]}")
        return seen.decode(errors="replace")


def run_code(port_name, code, timeout=120.0):
    """Run `code` over the raw REPL and return what it printed; its exception, if any, as a TinyRNNError.
    (The raw REPL answers OK, the output, 0x04, the exception text, 0x04, then its prompt.)"""
    with serial.Serial(port_name, 115200, timeout=0.2) as port:
        _raw_repl(port, port_name)
        port.write(code.encode() + b"\x04")
        seen = _read_until(port, b"\x04>", timeout)
        if not seen.startswith(b"OK") or b"\x04>" not in seen:
            raise TinyRNNError(f"{port_name}: no answer from the raw REPL: {seen[-300:]!r}")
        out, err = seen[2:].split(b"\x04")[:2]
        if err.strip():
            raise TinyRNNError(f"{port_name}: {err.decode(errors='replace').strip().splitlines()[-1]}")
        return out.decode(errors="replace")


def start(board, model_dir, run_dir=None):
    """Build (cached), deploy and start `board` with the model of `model_dir`; returns the qemu RunRecord."""
    elf = firmware(board)
    params = KernelParams.load(Path(model_dir))
    rom_dir = mpbuild.build_root() / "rom" / board.name / params.model_hash
    stage(board, model_dir, rom_dir / "files")
    image = romfs_image(rom_dir / "files", rom_dir / "romfs.img")
    record = qemu.start(board, elf, run_dir=run_dir, extra_args=qemu_args(board, image))
    try:
        start_server(record.port, server_code(board, image.stat().st_size))
    except (TinyRNNError, serial.SerialException) as e:
        qemu.stop(board.name, run_dir)
        raise TinyRNNError(f"{board.name}: {e}") from None
    return record
