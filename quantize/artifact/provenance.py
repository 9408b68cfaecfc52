"""What made an artifact, for a validation record: the date, tinyrnn's version, the git commit of its code, and the
versions of the tools that build, emulate and convert the model.

`code()` is recorded into metrics.json when the kernel is exported (quantize/emit/export.py), so a report shows the
code that made the model, whatever code renders the page later; `toolchains()` is read when the page is written.
A tool that is not installed is "not installed"; code outside a git checkout is "not a git checkout".
"""
from __future__ import annotations

import datetime
import functools
import importlib.metadata
import shutil
import subprocess
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]      # the checkout (or install) holding host/ and quantize/
NOT_A_CHECKOUT = "not a git checkout"
NOT_INSTALLED = "not installed"
# (what the report calls it, the command that prints its version on the first line)
TOOLS = [("arm-none-eabi-gcc", ["arm-none-eabi-gcc", "--version"]),
         ("riscv64-unknown-elf-gcc", ["riscv64-unknown-elf-gcc", "--version"]),
         ("QEMU (Arm)", ["qemu-system-arm", "--version"]),
         ("QEMU (RISC-V)", ["qemu-system-riscv32", "--version"])]
# (name, distributions that provide it: TensorFlow comes as tensorflow or tensorflow-cpu)
PACKAGES = [("TensorFlow", ("tensorflow", "tensorflow-cpu")), ("LiteRT", ("ai-edge-litert",)), ("Keras", ("keras",)),
            ("numpy", ("numpy",))]


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def tinyrnn_version() -> str:
    try:
        return importlib.metadata.version("tinyrnn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def _git(*args) -> str | None:
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_commit() -> str:
    """The commit of tinyrnn's own code, "+ uncommitted changes" when its files differ from it; NOT_A_CHECKOUT
    when the code is not the top of a git work tree (an installed package inside someone's repository is not)."""
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != SOURCE_ROOT:
        return NOT_A_CHECKOUT
    commit = _git("rev-parse", "HEAD") or NOT_A_CHECKOUT
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "host", "quantize", "firmware")
    return commit + (" + uncommitted changes" if dirty else "")


def code() -> dict:
    """What metrics.json records about the code that made a model."""
    return {"date": now(), "tinyrnn": tinyrnn_version(), "git_commit": git_commit()}


@functools.lru_cache(maxsize=1)
def toolchains() -> dict[str, str]:
    """Tool and package -> its version, NOT_INSTALLED when absent (read once per process)."""
    out = {}
    for name, cmd in TOOLS:
        if shutil.which(cmd[0]) is None:
            out[name] = NOT_INSTALLED
            continue
        proc = subprocess.run(cmd, capture_output=True, text=True)
        first = (proc.stdout or proc.stderr).strip().splitlines()
        out[name] = first[0] if proc.returncode == 0 and first else NOT_INSTALLED
    for name, dists in PACKAGES:
        out[name] = NOT_INSTALLED
        for dist in dists:
            try:
                out[name] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return out
