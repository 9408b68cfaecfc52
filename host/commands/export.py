"""Quantize an artifact directory for the fixed-point kernel and generate its C, from the directory alone.

Reads model.json + weights.npz (+ test_split.npz when present); writes kernel.npz, kernel.json, kernel.bin and
c/model_data.{h,c}; sets model_hash in model.json; evaluates the kernel's twin on the test split against the
float model's outputs and prints the figures as JSON. Needs no TensorFlow. With --tables, writes instead the
activation tables (tables.bin) that the MicroPython port of the kernel loads.

With --lib OUT --model DIR, writes a self-contained C library of the model for your own firmware into OUT:
kernel sources, model data, one header with the whole API (float and integer-only input with the normalisation
folded in, outputs, class names), CMake, a Makefile fragment, an Arduino and a PlatformIO layout, a README and
examples/stream, whose output on any core equals examples/stream/expected.txt (the twin's).
The model is named the same way in every mode: DIR, or --model DIR.
"""
import json
import math
import tempfile
from pathlib import Path

from tinyrnn.host.commands.options import add_model, artifact_dir
from tinyrnn.host.device.library_counts import count_library_instructions, uncounted
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.c_library import LibraryError, write_library
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.emit.micropython import write_tables
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.quantize.toolchain.build import BuildError
from tinyrnn.quantize.twin.params import UnsupportedModel

EXAMPLES = """\
  {prog} build/basic_motions-gru32
  {prog} build/basic_motions-gru32 --quiet > kernel_figures.json
  {prog} --tables build/mp/tables.bin
  {prog} --lib build/lib/motion --model build/basic_motions-gru32 --name motion
  {prog} --lib OUT --model DIR --int-scale 0.000598   # push_int takes counts of 0.000598 units
"""
# What exporting can meet in a damaged or unsupported artifact, or on a full disk: one line, not a traceback.
EXPORT_FAILURES = (UnsupportedModel, BuildError, OSError)


def add_arguments(p):
    p.add_argument("artifact_dir", nargs="?", type=artifact_dir, metavar="DIR",
                   help="artifact directory (model.json, weights.npz, ...); the same as --model DIR")
    add_model(p, note="the same as DIR: the model to export, or to write --lib from")
    p.add_argument("--quiet", action="store_true", help="print only the kernel's figures (JSON)")
    p.add_argument("--tables", metavar="OUT",
                   help="write tables.bin for the MicroPython port to OUT (a file with a suffix, or a directory)")
    p.add_argument("--lib", metavar="OUT", help="write a C library of the model into the folder OUT")
    p.add_argument("--name", help="--lib: C name of the library and prefix of its API (default: the model's folder)")
    p.add_argument("--int-scale", metavar="S[,S...]",
                   help="--lib: what one unit of push_int's integers is worth, in the unit the model was trained "
                        "on (one value, or one per channel); default 2^-k, k in the header")
    p.add_argument("--no-measure", action="store_true",
                   help="--lib: skip counting instructions per step for the README (Cortex-M0/M4 in unicorn, "
                        "rv32imc on the emulated RISC-V board)")


def _int_scale(text, channels):
    if text is None:
        return None
    fix = f"give one positive number or one per channel ({channels}), comma-separated"
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--int-scale {text}: not numbers", fix) from None
    if len(values) not in (1, channels):
        raise UserError(f"--int-scale {text}: {len(values)} values for a model of {channels} input channels", fix)
    bad = [v for v in values if not (v > 0 and math.isfinite(v))]
    if bad:
        raise UserError(f"--int-scale {text}: {bad[0]:g} is not a positive number", fix)
    return values[0] if len(values) == 1 else values


def _model_dir(args) -> Path | None:
    """The model, named as DIR or as --model DIR (one convention for every mode)."""
    if args.artifact_dir and args.model and args.artifact_dir != args.model:
        raise UserError(f"two artifact directories given ({args.artifact_dir} and --model {args.model})",
                        "name the model once: tinyrnn export DIR, or --model DIR")
    return args.artifact_dir or args.model


def _first_line(err: Exception) -> TinyRNNError:
    return TinyRNNError(str(err).splitlines()[0])


def _write_library(model: Path, args) -> int:
    artifact = Artifact.open(model)
    scale = _int_scale(args.int_scale, artifact.manifest.input_dim)
    try:
        if not artifact.kernel.json.is_file() or not (artifact.c_dir / "model_data.c").is_file():
            export(model, progress=True)
        with tempfile.TemporaryDirectory() as tmp:
            counts = {} if args.no_measure else count_library_instructions(model, Path(tmp))
        info = write_library(model, args.lib, name=args.name, int_scale=scale, instructions=counts)
    except LibraryError as err:
        what, _, hint = str(err).partition(" — ")
        raise UserError(what, hint or "see tinyrnn export --help") from None
    except EXPORT_FAILURES as err:
        raise _first_line(err) from None
    flash = info["flash"] or {}
    print(f"wrote {args.lib}: library {info['name']} (model {info['model_hash']}), "
          f"{info['example_sequences']} example sequence(s); RAM {info['struct_bytes']} bytes"
          + "".join(f", flash {core} {v['code'] + v['model_data']} bytes" for core, v in flash.items())
          + "".join(f", {core} {n} instructions/step" for core, n in info["instructions_per_step"].items()))
    for reason in ([] if args.no_measure else uncounted(info["instructions_per_step"])):
        print(f"note: the README has no instructions-per-step row for {reason}")
    print(f"next: see {Path(args.lib) / 'README.md'}")
    return 0


def _write_tables(out: str) -> int:
    try:
        path = write_tables(out)
    except OSError as e:
        raise TinyRNNError(f"cannot write {out}: {e.strerror or e}", "choose a writable path") from None
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def _export(model: Path, quiet: bool) -> int:
    try:
        result = export(model, progress=not quiet)
    except EXPORT_FAILURES as err:
        raise _first_line(err) from None
    print(json.dumps(result["metrics"], indent=2))
    return 0


def run(args) -> int:
    model = _model_dir(args)
    if args.lib:
        if args.tables:
            raise UserError("--lib and --tables both given", "run the two separately")
        if not model:
            raise UserError("--lib needs --model DIR", "tinyrnn export --lib OUT --model DIR")
        return _write_library(model, args)
    if args.tables:
        if model:
            raise UserError("give an artifact directory or --tables, not both", "run the two separately")
        return _write_tables(args.tables)
    if not model:
        raise UserError("no artifact directory given", "tinyrnn export DIR (a directory tinyrnn train wrote)")
    return _export(model, args.quiet)
