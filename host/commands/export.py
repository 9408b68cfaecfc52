"""Quantize an artifact directory for the fixed-point kernel and generate its C, from the directory alone.

Reads model.json + weights.npz (+ test_split.npz when present); writes kernel.npz, kernel.json, kernel.bin and
c/model_data.{h,c}; sets model_hash in model.json; evaluates the kernel's twin on the test split against the
float model's outputs and prints the figures as JSON. Needs no TensorFlow. With --tables, writes instead the
activation tables (tables.bin) that the MicroPython port of the kernel loads.

With --lib OUT --model DIR, writes a self-contained C library of the model for your own firmware into OUT:
kernel sources, model data, one header with the whole API (float and integer-only input with the normalisation
folded in, outputs, class names), CMake, a Makefile fragment, an Arduino and a PlatformIO layout, a README and
examples/stream, whose output on any core equals examples/stream/expected.txt (the twin's).
"""
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tinyrnn.host.device import firmware, qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.link.client import connect
from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, Artifact
from tinyrnn.quantize.emit.c_library import LibraryError, write_library
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.emit.micropython import write_tables
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.toolchain.build import BuildError
from tinyrnn.quantize.twin.cells import TwinModel
from tinyrnn.quantize.twin.params import UnsupportedModel

EXAMPLES = """\
  {prog} build/basic_motions-gru32
  {prog} build/basic_motions-gru32 --quiet > kernel_figures.json
  {prog} --tables build/mp/tables.bin
  {prog} --lib build/lib/motion --model build/basic_motions-gru32 --name motion
  {prog} --lib OUT --model DIR --int-scale 0.000598   # push_int takes counts of 0.000598 units
"""


def add_arguments(p):
    p.add_argument("artifact_dir", nargs="?", help="artifact directory (model.json, weights.npz, ...)")
    p.add_argument("--quiet", action="store_true", help="print only the kernel's figures (JSON)")
    p.add_argument("--tables", metavar="OUT",
                   help="write tables.bin for the MicroPython port to OUT (a file with a suffix, or a directory)")
    p.add_argument("--lib", metavar="OUT", help="write a C library of the --model into the folder OUT")
    p.add_argument("--model", metavar="DIR", help="artifact directory for --lib (tinyrnn export DIR ran on it)")
    p.add_argument("--name", help="--lib: C name of the library and prefix of its API (default: the model's folder)")
    p.add_argument("--int-scale", metavar="S[,S...]",
                   help="--lib: what one unit of push_int's integers is worth, in the unit the model was trained "
                        "on (one value, or one per channel); default 2^-k, k in the header")
    p.add_argument("--no-measure", action="store_true",
                   help="--lib: skip counting instructions per step for the README (Cortex-M0/M4 in unicorn, "
                        "rv32imc on the emulated RISC-V board)")


def _int_scale(text):
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--int-scale {text}: not numbers", "give one positive number or one per channel, "
                        "comma-separated") from None
    return values[0] if len(values) == 1 else values


RISCV_BOARD = "qemu-riscv32-virt"     # the emulated RISC-V board whose minstret counts the README's RV32 figure


def _count_on_riscv(model_dir: Path, twin: TwinModel, x_q, work: Path) -> int | None:
    """Instructions per tinyrnn_step on rv32imc: the kit's firmware for qemu-riscv32-virt (the same kernel
    sources and model data, -O2) under QEMU -icount, its minstret read around every step over the serial
    line. None without the RISC-V toolchain or QEMU."""
    board = load_board(RISCV_BOARD)
    if shutil.which(board.cross + "gcc") is None or shutil.which(board.qemu_binary) is None:
        return None
    record = qemu.start(board, firmware.build(board, model_dir), run_dir=work / "run")
    try:
        client = connect(record.port, expected_hash=twin.model_hash)
        try:
            result = client.sequence(x_q, per_step=True, reset=True)
        finally:
            client.transport.close()
    finally:
        qemu.stop(board.name, run_dir=work / "run")
    if not (result.outputs == twin.run(x_q)).all():
        raise TinyRNNError(f"the {RISCV_BOARD} build of {model_dir} differs from the twin", "report this as a bug")
    return round(float(client.info.ticks_to_count(result.step_ticks).mean()))


def _count_instructions(model_dir: Path, work: Path) -> dict:
    """{core: instructions per tinyrnn_step}: Cortex-M0/M4 in unicorn, rv32imc on the emulated RISC-V board
    (minstret under QEMU -icount); a core whose tools are missing is left out."""
    twin = TwinModel.from_artifact_dir(model_dir)
    x_q = np.zeros((16, twin.params.input_dim), np.int16)
    artifact = Artifact.open(model_dir)
    if artifact.has(TEST_SPLIT_NAME):
        x_q = twin.quantize_input(artifact.test_split().x[0][:16])
    counts = {}
    try:
        from tinyrnn.quantize.toolchain.emulate import EmulatedModel
    except ImportError:
        EmulatedModel = None
    for core in ("m0", "m4") if EmulatedModel and build.arm_toolchain_available() else ():
        emu = EmulatedModel(model_dir / "c", twin.params, core, work / core)
        emu.reset()
        y, n = emu.run(x_q, count=True)
        if not (y == twin.run(x_q)).all():
            raise TinyRNNError(f"the {core} build of {model_dir} differs from the twin", "report this as a bug")
        counts[core] = round(n / len(x_q))
    rv32 = _count_on_riscv(model_dir, twin, x_q, work)
    if rv32 is not None:
        counts["rv32imc"] = rv32
    return counts


def _write_library(args) -> int:
    if not args.model:
        raise UserError("--lib needs --model DIR", "tinyrnn export --lib OUT --model DIR")
    model = Path(args.model)
    artifact = Artifact.open(model)
    scale = _int_scale(args.int_scale)
    try:
        if not artifact.kernel.json.is_file() or not (artifact.c_dir / "model_data.c").is_file():
            export(model, progress=True)
        with tempfile.TemporaryDirectory() as tmp:
            counts = {} if args.no_measure else _count_instructions(model, Path(tmp))
        info = write_library(model, args.lib, name=args.name, int_scale=scale, instructions=counts)
    except LibraryError as err:
        what, _, hint = str(err).partition(" — ")
        raise UserError(what, hint or "see tinyrnn export --help") from None
    except (UnsupportedModel, BuildError, OSError, KeyError, ValueError) as err:
        raise TinyRNNError(str(err).splitlines()[0]) from None
    flash = info["flash"] or {}
    print(f"wrote {args.lib}: library {info['name']} (model {info['model_hash']}), "
          f"{info['example_sequences']} example sequence(s); RAM {info['struct_bytes']} bytes"
          + "".join(f", flash {core} {v['code'] + v['model_data']} bytes" for core, v in flash.items())
          + "".join(f", {core} {n} instructions/step" for core, n in info["instructions_per_step"].items()))
    print(f"next: see {Path(args.lib) / 'README.md'}")
    return 0


def run(args) -> int:
    if args.lib:
        if args.tables or args.artifact_dir:
            raise UserError("--lib takes the model as --model DIR", "tinyrnn export --lib OUT --model DIR")
        return _write_library(args)
    if args.tables:
        if args.artifact_dir:
            raise UserError("give an artifact directory or --tables, not both", "run the two separately")
        try:
            path = write_tables(args.tables)
        except OSError as e:
            raise TinyRNNError(f"cannot write {args.tables}: {e.strerror or e}",
                               "choose a writable path") from None
        print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    if not args.artifact_dir:
        raise UserError("no artifact directory given", "tinyrnn export DIR (a directory tinyrnn train wrote)")
    try:
        result = export(args.artifact_dir, progress=not args.quiet)
    except (UnsupportedModel, BuildError, OSError, KeyError, ValueError) as err:
        raise TinyRNNError(str(err).splitlines()[0]) from None
    print(json.dumps(result["metrics"], indent=2))
    return 0
