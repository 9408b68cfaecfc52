"""Quantize an artifact directory for the fixed-point kernel and generate its C, from the directory alone.

Reads model.json + weights.npz (+ test_split.npz when present); writes kernel.npz, kernel.json, kernel.bin and
c/model_data.{h,c}; sets model_hash in model.json; evaluates the kernel's twin on the test split against the
float model's outputs and prints the figures as JSON. Needs no TensorFlow. With --tables, writes instead the
activation tables (tables.bin) that the MicroPython port of the kernel loads.
"""
import json

from tinyrnn.host.errors import TinyRNNError, UserError
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.emit.micropython import write_tables
from tinyrnn.quantize.toolchain.build import BuildError
from tinyrnn.quantize.twin.params import UnsupportedModel

EXAMPLES = """\
  {prog} build/basic_motions-gru32
  {prog} build/basic_motions-gru32 --quiet > kernel_figures.json
  {prog} --tables build/mp/tables.bin
"""


def add_arguments(p):
    p.add_argument("artifact_dir", nargs="?", help="artifact directory (model.json, weights.npz, ...)")
    p.add_argument("--quiet", action="store_true", help="print only the kernel's figures (JSON)")
    p.add_argument("--tables", metavar="OUT",
                   help="write tables.bin for the MicroPython port to OUT (a file with a suffix, or a directory)")


def run(args) -> int:
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
