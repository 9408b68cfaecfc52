"""Build the kit's firmware for a board and a model: `make -C firmware`, with the model's C generated first.

The build refuses a model that does not fit the board's flash or RAM, saying what it needs and what the board
has (host/device/fwsize.py). Output goes to build/fw/<board>/<model hash>/ under the current directory (or
$BUILD_DIR), never into the installed package.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tinyrnn.host.defaults import firmware_build_dir
from tinyrnn.host.device.build_lock import build_lock
from tinyrnn.quantize import targets
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.errors import BuildFailed, TinyRNNError, ToolMissing
from tinyrnn.quantize.emit.c_code import LAYOUTS, header_layouts
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.toolchain.build import BuildError
from tinyrnn.quantize.twin.params import UnsupportedModel
from tinyrnn.quantize.sources import FIRMWARE_DIR

HASH_DEFINE = re.compile(r'^#define TINYRNN_MODEL_HASH "([0-9a-f]*)"', re.MULTILINE)


def model_key(model_dir=None):
    """The name firmware/Makefile gives a model's output directory: its model hash (the TINYRNN_MODEL_HASH the
    generated c/model_data.h carries, which is model.json's "model_hash"), or "bringup" without a model."""
    if not model_dir:
        return "bringup"
    model_dir = Path(model_dir)
    header = model_dir / "c" / "model_data.h"
    if header.is_file():
        match = HASH_DEFINE.search(header.read_text(errors="replace"))
        if match and match.group(1):
            return match.group(1)
    key = Artifact.open(model_dir).model_hash
    if not key:
        raise TinyRNNError(f"{model_dir}: model.json has no model_hash yet", f"run: tinyrnn export {model_dir}")
    return key


def firmware_dir(board_name, model_dir=None):
    """build/fw/<board>/<model hash or bringup>/ (or under $BUILD_DIR): where `make -C firmware` writes the
    ELF and size.json. The one Python copy of the Makefile's OUT; flash, harness and hwtest all use it."""
    return firmware_build_dir() / board_name / model_key(model_dir)


def elf_path(board_name, model_dir=None):
    return firmware_dir(board_name, model_dir) / "app.elf"


def _c_is_current(model_dir) -> bool:
    header = model_dir / "c" / "model_data.h"
    return header.is_file() and header_layouts(header.read_text(errors="replace")) >= set(LAYOUTS)


def ensure_exported(model_dir):
    """Generate the model's C (as `tinyrnn export` does) if the artifact directory has none yet, or has C
    generated without every weight layout the kernels may read (TINYRNN_C_LAYOUT_<n> vs emit.c_code.LAYOUTS).
    One process generates it (boards built at once for one model would write it together); a current C is only
    read, so a read-only artifact directory with its C works."""
    if _c_is_current(model_dir):
        return
    try:
        with build_lock(model_dir / "c", f"the C of {model_dir}"):
            if not _c_is_current(model_dir):        # (another process may have written it while this one waited)
                _export(model_dir)
    except OSError as e:                            # the lock file: a read-only or full artifact directory
        raise BuildFailed(f"{model_dir}: cannot generate the model's C ({e.strerror}: {e.filename})",
                          "train the model again (tinyrnn train), or export it where it can be written") from None


def _export(model_dir):
    header = model_dir / "c" / "model_data.h"
    if header.is_file():
        layouts = header_layouts(header.read_text(errors="replace"))
        print(f"regenerating C for {model_dir}: it has weight layouts {sorted(layouts) or 'unversioned'}, the "
              f"kernels read layouts {list(LAYOUTS)} (tinyrnn export)", flush=True)
    else:
        print(f"generating C for {model_dir} (tinyrnn export)", flush=True)
    try:
        export(model_dir, progress=False)
    except (UnsupportedModel, BuildError, OSError) as e:     # a bad model or a full disk; not a bug
        raise BuildFailed(f"{model_dir}: cannot generate the model's C ({str(e).splitlines()[0]})",
                          "train the model again (tinyrnn train)") from None


def build(board, model_dir=None, verbose=False):
    """`make -C firmware BOARD=... MODEL=...`; returns the ELF path. Raises BuildFailed with make's error."""
    if shutil.which(board.cross + "gcc") is None:
        raise ToolMissing(f"{board.cross}gcc not found: apt-get install {targets.TOOLCHAIN_PACKAGE[board.family]}")
    if model_dir:
        ensure_exported(Path(model_dir))
    cmd = ["make", "-C", str(FIRMWARE_DIR), f"BOARD={board.name}", f"PYTHON={sys.executable}",
           f"BUILD_DIR={firmware_build_dir()}", f"MODEL_KEY={model_key(model_dir)}"]
    if model_dir:
        cmd.append(f"MODEL={Path(model_dir).resolve()}")
    with build_lock(firmware_dir(board.name, model_dir), f"the {board.name} firmware"):     # make is not atomic
        proc = subprocess.run(cmd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if verbose:
        print(output, end="")
    if proc.returncode != 0:
        # the compiler's own message ("file:line:col: error: ..."), not a command line that merely has -Werror
        lines = output.splitlines()
        errors = [line for line in lines if ": error:" in line] or [line for line in lines if "error:" in line]
        raise BuildFailed((errors[0] if errors else output.strip().splitlines()[-1]).removeprefix("error: ")
                          + ("" if verbose else "  (run with --verbose for the full build log)"))
    for line in output.splitlines():
        if line.startswith(f"{board.name} / "):
            print(line)                     # the size report
    return elf_path(board.name, model_dir)


def expected_hash(model_dir):
    """The model hash an artifact directory's model.json records (None without a model)."""
    if not model_dir:
        return None
    return Artifact.open(model_dir).model_hash     # the artifact's owner checks the hash's form
