"""Build the firmware for a board and model, and flash it (or start it in QEMU).

    python host/flash.py --board qemu-mps2-an386 --model build/basic_motions-gru32   # prints the port
    python host/flash.py --board nucleo-f446re --model build/basic_motions-gru32     # pyocd or openocd
    python host/flash.py --board qemu-microbit                                       # bring-up firmware
    python host/flash.py --list                                                      # running emulators
    python host/flash.py --stop qemu-mps2-an386      (or --stop all)

The build (`make -C firmware`) refuses a model that does not fit the board's flash or RAM, saying what it
needs and what the board has, so nothing is flashed then. Emulated boards run in the background under QEMU
with a pty; the port is printed and recorded in build/run/<board>.json until --stop. TINYRNN_RUN_DIR=DIR
keeps these records (and so --list/--stop) in DIR instead; host/hwtest.py keeps its own in build/run-hwtest/,
so it never stops an emulator started here.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):          # run as a script: python host/flash.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host import qemu
from host.boards import DEFAULT_BOARD, ROOT, CliParser, board_names, load_board
from host.errors import TinyRNNError, ToolMissing


class BuildFailed(TinyRNNError):
    pass


class FlashFailed(TinyRNNError):
    pass


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
    try:
        key = json.loads((model_dir / "model.json").read_text()).get("model_hash")
    except (OSError, ValueError) as e:
        raise TinyRNNError(f"{model_dir}: cannot read model.json ({e})") from None
    if not key:
        raise TinyRNNError(f"{model_dir}: model.json has no model_hash yet (python -m quantize.export {model_dir})")
    return key


def firmware_dir(board_name, model_dir=None):
    """build/fw/<board>/<model hash or bringup>/ (or under $BUILD_DIR): where `make -C firmware` writes the
    ELF and size.json. The one Python copy of the Makefile's OUT; flash, harness and hwtest all use it."""
    build_dir = Path(os.environ.get("BUILD_DIR") or ROOT / "build" / "fw")
    return build_dir / board_name / model_key(model_dir)


def elf_path(board_name, model_dir=None):
    return firmware_dir(board_name, model_dir) / "app.elf"


def ensure_exported(model_dir):
    """Generate the model's C (python -m quantize.export) if the artifact directory has none yet, or has C
    generated for another weight layout than this checkout's (TINYRNN_C_LAYOUT vs quantize.codegen.C_LAYOUT)."""
    from quantize.codegen import C_LAYOUT, header_layout
    header = model_dir / "c" / "model_data.h"
    if header.is_file():
        layout = header_layout(header.read_text(errors="replace"))
        if layout == C_LAYOUT:
            return
        print(f"regenerating C for {model_dir}: it has weight layout {layout or 'unversioned'}, the kernels "
              f"read layout {C_LAYOUT} (python -m quantize.export)", flush=True)
    else:
        print(f"generating C for {model_dir} (python -m quantize.export)", flush=True)
    proc = subprocess.run([sys.executable, "-m", "quantize.export", str(model_dir)], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(f"quantize.export failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def build(board, model_dir=None, verbose=False):
    """`make -C firmware BOARD=... MODEL=...`; returns the ELF path. Raises BuildFailed with make's error."""
    if shutil.which("arm-none-eabi-gcc") is None:
        raise ToolMissing("arm-none-eabi-gcc not found: apt-get install gcc-arm-none-eabi")
    cmd = ["make", "-C", str(ROOT / "firmware"), f"BOARD={board.name}", f"PYTHON={sys.executable}"]
    if model_dir:
        ensure_exported(Path(model_dir))
        cmd.append(f"MODEL={Path(model_dir).resolve()}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if verbose:
        print(output, end="")
    if proc.returncode != 0:
        errors = [line for line in output.splitlines() if "error" in line.lower()]
        raise BuildFailed((errors[0] if errors else output.strip().splitlines()[-1]).removeprefix("error: ")
                          + ("" if verbose else "  (run with --verbose for the full build log)"))
    for line in output.splitlines():
        if line.startswith(f"{board.name} / "):
            print(line)                     # the size report
    return elf_path(board.name, model_dir)


def expected_hash(model_dir):
    if not model_dir:
        return None
    manifest = json.loads((Path(model_dir) / "model.json").read_text())
    return manifest.get("model_hash")


def start_emulated(board, elf, model_dir):
    """Start QEMU, then shake hands once so a broken image is reported now rather than by the harness."""
    from host.harness import connect
    record = qemu.start(board, elf)
    try:
        client = connect(record.port, expected_hash=expected_hash(model_dir))
        print(client.info.describe())
        client.transport.close()
    except TinyRNNError:
        qemu.stop(board.name)
        raise
    return record


def flash_probe(board, elf):
    """Flash a real board with pyOCD, or OpenOCD if pyOCD is not installed."""
    runner = board.runner
    if shutil.which("pyocd"):
        cmd = ["pyocd", "flash", "-t", runner["pyocd_target"], str(elf)]
    elif shutil.which("openocd"):
        cmd = ["openocd", *runner["openocd_args"], "-c", f"program {elf} verify reset exit"]
    else:
        raise ToolMissing(f"{board.name}: neither pyocd nor openocd is installed "
                          "(pip install pyocd, or apt-get install openocd)")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).strip().splitlines()
        probe = [line for line in text if "probe" in line.lower() or "no device" in line.lower()
                 or "unable to" in line.lower()]
        raise FlashFailed(f"{cmd[0]} failed on {board.name}: "
                          f"{(probe or text or ['no output'])[-1].strip()} (is the board plugged in?)")
    print(f"flashed {elf} to {board.name} with {cmd[0]}")


def main(argv=None):
    ap = CliParser(prog="python host/flash.py", description=__doc__.splitlines()[0],
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="\n".join(__doc__.splitlines()[1:]).strip("\n"))
    ap.add_argument("--board", default=None, help=f"board name (default {DEFAULT_BOARD}); python -m host.boards list")
    ap.add_argument("--model", help="artifact directory (omit for the bring-up firmware without a model)")
    ap.add_argument("--no-build", action="store_true", help="flash the ELF already built")
    ap.add_argument("--list", action="store_true", help="list running emulated boards")
    ap.add_argument("--stop", nargs="?", const="all", metavar="BOARD|all", help="stop emulated board(s)")
    ap.add_argument("--verbose", action="store_true", help="show the build log")
    args = ap.parse_args(argv)
    try:
        if args.list:
            records = qemu.running()
            for r in records:
                print(f"{r.board:22s} {r.port:12s} pid {r.pid:<8d} {r.elf}")
            if not records:
                print("no emulated board running")
            return 0
        if args.stop:
            if args.stop != "all" and args.stop not in board_names():
                raise TinyRNNError(f"--stop {args.stop}: unknown board (known: {', '.join(board_names())}, or all)")
            names = [r.board for r in qemu.running()] if args.stop == "all" else [args.stop]
            for name in names:
                print(f"{name}: {'stopped' if qemu.stop(name) else 'not running'}")
            return 0

        board = load_board(args.board or DEFAULT_BOARD)
        if args.model and not (Path(args.model) / "model.json").is_file():
            raise TinyRNNError(f"{args.model}: not an artifact directory (no model.json)")
        elf = elf_path(board.name, args.model) if args.no_build else build(board, args.model, args.verbose)
        if not elf.is_file():
            raise BuildFailed(f"{elf} does not exist: build it first (drop --no-build)")
        if board.emulated:
            record = start_emulated(board, elf, args.model)
            print(f"port: {record.port}  (QEMU pid {record.pid}; stop with: python host/flash.py --stop {board.name})")
        else:
            flash_probe(board, elf)
    except TinyRNNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
