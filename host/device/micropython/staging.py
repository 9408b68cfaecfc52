"""The files a MicroPython board gets (either kind: emulated, in a ROMFS image; real, copied with mpremote): the
server and the API as .mpy, and the kernel as the board's [runtime] module says (natmod, cmodule, python)."""
import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

from tinyrnn.host.device.micropython import builds
from tinyrnn.quantize import targets
from tinyrnn.quantize.errors import BuildFailed, TinyRNNError, ToolMissing
from tinyrnn.quantize.emit.micropython import write_c_image, write_tables
from tinyrnn.quantize.sources import MICROPYTHON_DIR
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel

COMMON_FILES = ("tinyrnn_server.py", "tinyrnn_model.py", "protocol_ids.py")
# On a firmware with tinyrnn_c compiled in, a built-in module wins over a file of the same name: the natmod is
# then deployed under this name and put in sys.modules as tinyrnn_c before anything imports it.
NATMOD_ALIAS = "tinyrnn_natmod"


def with_cmodule(board):
    """True if the board's firmware has tinyrnn_c compiled in ([runtime] user_c_module; always for module =
    "cmodule"): one firmware then serves a natmod board and a user-C-module board alike."""
    return bool(board.runtime.get("user_c_module", board.runtime["module"] == "cmodule"))


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
        proc = subprocess.run([str(builds.mpy_cross()), *arch, "-o", str(out_dir / name.replace(".py", ".mpy")),
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
        # in the layout the board's natmod / firmware kernels read (the byte layout on RISC-V)
        natmod = board.runtime.get("natmod_arch")
        layout = targets.natmod_weight_layout(natmod) if natmod else targets.CORES[board.core].weight_layout
        write_c_image(params, out_dir / "kernel_c.bin", layout)
    if "natmod" in modules:
        shutil.copy(builds.natmod(board.runtime["natmod_arch"]), out_dir / natmod_file(board))
    for extra in extra_natmods:
        shutil.copy(builds.natmod(extra), out_dir / natmod_file(board, extra))
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
