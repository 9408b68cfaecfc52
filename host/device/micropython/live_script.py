"""The live example (firmware/micropython/examples/live_recorded.py) on an emulated MicroPython board, for
`tinyrnn monitor`: the board's files in a ROMFS image, QEMU started, and the script started over the raw REPL.

The ROMFS image holds what the board's target stages (the API, the kernel: staging.stage) plus the live helper
(tinyrnn_live), the model's input pre-processing (tinyrnn_input, generated), the recorded signal that stands in
for the sensor (recorded_signal, generated from the model's test sequences) and the script, all compiled with the
firmware's mpy-cross (a large recorded signal compiled on the board would not fit its heap).

`start_script` only writes to the port (Ctrl-C, Ctrl-A, the code, Ctrl-D), so the reader that watches the live
lines (the monitor, already listening on the port) sees the board start: the `@tr start` line included.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tinyrnn.host.device import qemu
from tinyrnn.host.device.micropython import builds
from tinyrnn.host.device.micropython.qemu_firmware import firmware, mount_code, qemu_args
from tinyrnn.host.device.micropython.staging import NATMOD_ALIAS, romfs_image, stage, with_cmodule
from tinyrnn.host.link.transport import raw_port
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.micropython import input_fold_module
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal, micropython_module
from tinyrnn.quantize.errors import BuildFailed
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.twin.params import KernelParams

SCRIPT = MICROPYTHON_DIR / "examples" / "live_recorded.py"
INSTRUCTIONS_PER_TICK = 1000        # MPS2 under -icount shift=0: one ticks_us() microsecond = 1,000 instructions


def _compile(board, source: Path, out_dir: Path) -> None:
    arch = ["-march=" + board.runtime["natmod_arch"]] if board.runtime.get("natmod_arch") else []
    proc = subprocess.run([str(builds.mpy_cross()), *arch, "-o", str(out_dir / (source.stem + ".mpy")),
                           str(source)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(f"mpy-cross {source.name}: {proc.stderr.strip()}")


def build_image(board, model_dir, sequences: int = 4) -> Path:
    """The ROMFS image of the live example for this model (rebuilt each time: it is small)."""
    params = KernelParams.load(Path(model_dir))
    rom_dir = builds.build_root() / "rom-live" / board.name / params.model_hash
    files = stage(board, model_dir, rom_dir / "files")
    generated = rom_dir / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    generated.mkdir(parents=True)
    manifest = Artifact.open(model_dir).manifest
    signal = RecordedSignal.from_artifact(Artifact.open(model_dir), sequences=sequences)
    (generated / "recorded_signal.py").write_text(micropython_module(signal))
    (generated / "tinyrnn_input.py").write_text(input_fold_module(params, int(manifest.downsample or 1)))
    for source in (generated / "recorded_signal.py", generated / "tinyrnn_input.py",
                   MICROPYTHON_DIR / "tinyrnn_live.py", SCRIPT):
        _compile(board, source, files)
    return romfs_image(files, rom_dir / "romfs.img")


def start_board(board, model_dir, run_dir=None, sequences: int = 4):
    """QEMU with the MicroPython firmware and the live example's image; returns (RunRecord, image)."""
    image = build_image(board, model_dir, sequences)
    record = qemu.start(board, firmware(board), run_dir=run_dir, extra_args=qemu_args(board, image))
    return record, image


def script_code(board, image_size: int, steps: int | None) -> str:
    """What the raw REPL runs: mount the image, then the live example (latency in instructions)."""
    alias = (f"import {NATMOD_ALIAS}\nsys.modules['tinyrnn_c'] = {NATMOD_ALIAS}\n"
             if board.runtime["module"] == "natmod" and with_cmodule(board) else "")
    # print(): the raw REPL answers "OK" with no newline; the live lines must each begin a line
    unmount = "import vfs\ntry:\n    vfs.umount('/rom')\nexcept OSError:\n    pass\n"   # a run before mounted it
    return (unmount + mount_code(board, image_size) + alias + "print()\nimport live_recorded\n"
            f"live_recorded.main(steps={steps!r}, pace=False, unit='instructions', "
            f"per_tick={INSTRUCTIONS_PER_TICK})\n")


def start_script(port_name: str, code: str) -> None:
    """Stop what runs, enter the raw REPL and run `code`, reading nothing (a monitor reads the port)."""
    with raw_port(port_name) as port:
        port.write(b"\r\x03\x03")          # stop whatever runs
        port.write(b"\x01")                # raw REPL
        port.write(code.encode() + b"\x04")
        port.flush()
