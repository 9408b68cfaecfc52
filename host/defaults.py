"""The defaults every command shares: the default board, the default model, and where runs write.

Runs write below the current directory (`build/`), never into the installed package.
"""
import os
from pathlib import Path

DEFAULT_BOARD = "qemu-mps2-an386"
# The artifact directory `tinyrnn train` writes with its defaults (training.pipeline.default_out_dir(
# "basic_motions", None, "gru", 32)), relative to the current directory: the default model of harness,
# hwtest, demo and the hardware suite.
DEFAULT_MODEL = Path("build") / "basic_motions-gru32"


def firmware_build_dir() -> Path:
    """Where firmware builds go: $BUILD_DIR, else build/fw (absolute, so make -C firmware writes here)."""
    return Path(os.environ.get("BUILD_DIR") or Path("build") / "fw").resolve()
