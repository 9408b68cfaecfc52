"""MicroPython builds: the source tree, mpy-cross, the tinyrnn_c natmod per architecture, the qemu port firmware.

The MicroPython source is pinned to v1.28.0 (natmods must match the firmware's .mpy version and function
table). Where it comes from, first match wins:

  1. $MICROPY_DIR: a MicroPython source tree (yours; mpy-cross and the firmware are built inside it)
  2. the trimmed v1.28.0 archive beside the repository, ../shared/vendor/micropython-1.28.0-min.tar.gz
     (or $TINYRNN_MICROPY_ARCHIVE), extracted to build/micropython/src/ (never into the repository)
  3. `git clone --depth 1 --branch v1.28.0` of MicroPython's repository into build/micropython/src/

Without any of them `MicroPythonMissing` says so; the tests that need it skip with that reason.

Everything is written below build/micropython/ of the current directory and reused while its inputs are
unchanged (a stamp of the input files' hash beside each output): mpy-cross and the stock firmware do not depend
on the model, and the natmod and user-C-module firmware depend only on the kernel sources. Each output is built by
one process at a time (host/device/build_lock.py): boards built at once share these caches.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from tinyrnn.host.device.build_lock import build_lock
from tinyrnn.quantize.errors import BuildFailed, ToolMissing
from tinyrnn.quantize.sources import MICROPYTHON_DIR, PACKAGE_ROOT, kernel_headers, kernel_sources
from tinyrnn.quantize.targets import TOOLCHAIN_PREFIX

MICROPY_VERSION = "1.28.0"
MICROPY_TAG = "v" + MICROPY_VERSION
MICROPY_GIT = "https://github.com/micropython/micropython.git"
ARCHIVE_NAME = f"micropython-{MICROPY_VERSION}-min.tar.gz"
NATIVE_DIR = MICROPYTHON_DIR / "native"
QEMU_BOARDS_DIR = MICROPYTHON_DIR / "qemu-boards"       # boards of the project's own for ports/qemu
NATMOD_ARCHS = ("x64", "armv6m", "armv7m", "armv7emsp", "armv7emdp", "rv32imc")
NATMOD_NAME = "tinyrnn_c.mpy"
# What a cross build needs per core family (quantize/targets.py's families): the compiler, and the C library
# whose headers the natmod and the firmware include (py/dynruntime.mk and ports/qemu select picolibc on RISC-V;
# without it Debian's RISC-V compiler has no libc headers, and the port's link picks up the rv64 libraries).
CROSS_NEEDS = {
    "cortexm": ((), "gcc-arm-none-eabi"),
    "riscv": (("picolibc.specs",), "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"),
}


class MicroPythonMissing(ToolMissing):
    """No MicroPython source tree could be found or fetched."""


def build_root() -> Path:
    return (Path("build") / "micropython").resolve()


def _archive_candidates():
    env = os.environ.get("TINYRNN_MICROPY_ARCHIVE")
    if env:
        yield Path(env)
    for base in (PACKAGE_ROOT.parent, Path.cwd().parent, Path.cwd()):
        yield base / "shared" / "vendor" / ARCHIVE_NAME


def source_dir(fetch: bool = True) -> Path:
    """The MicroPython v1.28.0 source tree (see the module docstring), extracted or cloned if needed."""
    env = os.environ.get("MICROPY_DIR")
    if env:
        path = Path(env).resolve()
        if not (path / "py" / "dynruntime.mk").is_file():
            raise MicroPythonMissing(f"MICROPY_DIR={env} is not a MicroPython source tree (no py/dynruntime.mk)",
                                     "point it at a checkout of MicroPython v1.28.0")
        return path
    target = build_root() / "src" / f"micropython-{MICROPY_VERSION}"
    with build_lock(target, "the MicroPython source tree"):
        return _extract_or_clone(target, fetch)


def _extract_or_clone(target: Path, fetch: bool) -> Path:
    if (target / "py" / "dynruntime.mk").is_file():
        return target
    for archive in _archive_candidates():
        if archive.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            # tarfile's "data" filter (no links out, no device files) exists from Python 3.11.4 / 3.12 on
            safe: dict = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            with tarfile.open(archive) as tar:
                tar.extractall(target.parent, **safe)
            if (target / "py" / "dynruntime.mk").is_file():
                return target
    if fetch and shutil.which("git"):
        target.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", MICROPY_TAG, MICROPY_GIT,
                               str(target)], capture_output=True, text=True)
        if proc.returncode == 0:
            return target
        shutil.rmtree(target, ignore_errors=True)
    raise MicroPythonMissing(f"no MicroPython {MICROPY_TAG} source (MICROPY_DIR unset, no {ARCHIVE_NAME}, "
                             "git clone failed)", "set MICROPY_DIR to a MicroPython v1.28.0 checkout")


def _inputs_hash(paths, *extra) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(str(p.name).encode() + b"\0" + p.read_bytes() + b"\0")
    for e in extra:
        h.update(str(e).encode() + b"\0")
    return h.hexdigest()[:16]


def _fresh(output: Path, stamp: str) -> bool:
    marker = output.with_name(output.name + ".stamp")
    return output.is_file() and marker.is_file() and marker.read_text() == stamp


def _stamp(output: Path, stamp: str) -> None:
    output.with_name(output.name + ".stamp").write_text(stamp)


def natmod_family(arch: str) -> str | None:
    """The core family whose cross compiler builds natmods of `arch` (None: the host's, x64)."""
    return None if arch == "x64" else "riscv" if arch.startswith("rv") else "cortexm"


def check_cross(family: str) -> None:
    """ToolMissing, naming the Debian packages, unless the family's cross compiler (and C library) is installed."""
    gcc = TOOLCHAIN_PREFIX[family] + "-gcc"
    files, packages = CROSS_NEEDS[family]
    missing = shutil.which(gcc) is None
    for name in files if not missing else ():
        found = subprocess.run([gcc, f"--print-file-name={name}"], capture_output=True, text=True).stdout.strip()
        missing = missing or found == name                 # gcc echoes the bare name when it finds no such file
    if missing:
        raise ToolMissing(f"{gcc} {'and its C library ' if files else ''}not found: apt-get install {packages}")


def _run(cmd, cwd=None, what="build"):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        errors = [line for line in lines if "error" in line.lower()] or lines[-3:]
        raise BuildFailed(f"{what} failed: {' / '.join(errors[:3])}", "see: " + " ".join(map(str, cmd)))
    return proc


def _python() -> str:
    """The Python for MicroPython's build scripts: this one (it has pyelftools for mpy_ld.py)."""
    return sys.executable


def mpy_cross(src: Path | None = None) -> Path:
    """mpy-cross built in the source tree (once: it depends on nothing of ours)."""
    src = src or source_dir()
    exe = src / "mpy-cross" / "build" / "mpy-cross"
    with build_lock(build_root() / "mpy-cross", "mpy-cross"):      # (the lock in our build/, not in MICROPY_DIR)
        if not exe.is_file():
            if shutil.which("gcc") is None:
                raise ToolMissing("gcc not found (mpy-cross is built with the host compiler): apt-get install gcc")
            _run(["make", "-C", str(src / "mpy-cross"), f"PYTHON={_python()}", "-j2"], what="mpy-cross")
    return exe


def natmod(arch: str, src: Path | None = None) -> Path:
    """tinyrnn_c.mpy for `arch` (NATMOD_ARCHS), built from firmware/kernels/*.c in place; reused while the
    kernel sources, the binding and its Makefile are unchanged."""
    if arch not in NATMOD_ARCHS:
        raise BuildFailed(f"natmod architecture {arch!r} not built here", f"use one of {', '.join(NATMOD_ARCHS)}")
    family = natmod_family(arch)
    if family:
        check_cross(family)
    src = src or source_dir()
    out_dir = build_root() / "mpy" / arch
    output = out_dir / NATMOD_NAME
    headers = kernel_headers()
    stamp = _inputs_hash([*kernel_sources(), *headers, *NATIVE_DIR.glob("*.[ch]"), NATIVE_DIR / "Makefile"], src,
                          arch)
    with build_lock(out_dir, f"the {arch} natmod"):
        if _fresh(output, stamp):
            return output
        mpy_cross(src)
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        _run(["make", "-f", str(NATIVE_DIR / "Makefile"), f"MPY_DIR={src}", f"ARCH={arch}", f"PYTHON={_python()}"],
             cwd=out_dir, what=f"natmod {arch}")
        _stamp(output, stamp)
    return output


def qemu_firmware(port_board: str, user_c_module: bool = False, src: Path | None = None,
                  family: str = "cortexm") -> Path:
    """MicroPython's qemu port firmware for `port_board` (MPS2_AN385, MPS2_AN500, or a board of the project's own
    in firmware/micropython/qemu-boards/, e.g. MPS2_AN386, VIRT_RV32), with no frozen modules; with
    user_c_module, with tinyrnn_c compiled in (USER_C_MODULES). `family`: the board's core family (cortexm,
    riscv), whose cross compiler the port uses. Returns firmware.elf."""
    check_cross(family)
    src = src or source_dir()
    variant = port_board + ("-cmodule" if user_c_module else "")
    build = build_root() / "fw" / variant
    output = build / "firmware.elf"
    own = QEMU_BOARDS_DIR / port_board
    inputs = list(own.glob("*")) if own.is_dir() else []
    if user_c_module:
        inputs += [*kernel_sources(), *kernel_headers(), *NATIVE_DIR.glob("*")]
    stamp = _inputs_hash([p for p in inputs if p.is_file()], src, variant)
    with build_lock(build, f"the MicroPython firmware {variant}"):
        if _fresh(output, stamp):
            return output
        mpy_cross(src)
        board = [f"BOARD_DIR={own}", f"BOARD={port_board}"] if own.is_dir() else [f"BOARD={port_board}"]
        cmd = ["make", "-C", str(src / "ports" / "qemu"), *board, f"BUILD={build}", "FROZEN_MANIFEST=",
               f"PYTHON={_python()}", "-j2"]
        if user_c_module:
            # The port's -Werror applies; sources by real path (vpath does not follow relative symlinks).
            cmd.append(f"USER_C_MODULES={MICROPYTHON_DIR.resolve()}")
        shutil.rmtree(build, ignore_errors=True)
        _run(cmd, what=f"MicroPython firmware {variant}")
        _stamp(output, stamp)
    return output
