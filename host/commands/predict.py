"""Run your own recordings through the model on the host: the bit-exact twin and the float model, per sequence.

FILE is a .csv or .npz in the formats of docs/data-formats.md (label optional; every sequence of the file is
used). Raw values are pre-processed exactly as the exported C library's <name>_push_float does them
(normalisation and downsampling folded into integer input steps), so the twin's outputs are the integers the
library computes on any board; the float model (weights.npz, numpy) is the reference. Per sequence: the final
class and its probability (or the regression values), twin vs float, and whether they agree; then the figures
over every step, and the accuracy when the file carries labels. No board needed (`tinyrnn harness --inputs
FILE` runs the same file on one). Exit status 0, or 2 when the file or the model cannot be used.
"""
import json
from pathlib import Path

import numpy as np

from tinyrnn.host.check import recordings
from tinyrnn.host.commands.base import write_output
from tinyrnn.host.commands.options import add_model
from tinyrnn.host.defaults import DEFAULT_MODEL

EXAMPLES = """\
  {prog} --model build/basic_motions-gru32 my_recordings.csv
  {prog} my_recordings.npz --json predictions.json      # per-sequence results and figures as JSON
  {prog} my_recordings.csv --steps                      # also print every step's twin output
"""


def add_arguments(p):
    p.add_argument("file", help="recordings: .csv or .npz (docs/data-formats.md)")
    add_model(p, default=DEFAULT_MODEL)
    p.add_argument("--json", metavar="PATH", help="also write per-sequence results and figures here")
    p.add_argument("--steps", action="store_true", help="print the twin's outputs after every step")


def run(args) -> int:
    twin, manifest, weights = recordings.load_model(args.model)
    rec = recordings.load_recordings(args.file)
    prepared = recordings.prepare(rec, twin, manifest)
    twin_q = twin.run(prepared.x_q)
    twin_out = twin.dequantize_output(twin_q)
    float_out = recordings.float_outputs(prepared, manifest, weights)
    rows = recordings.per_sequence(prepared, manifest, float_out, twin_out)
    figures = recordings.compare(prepared, float_out, twin_out, manifest)
    task = manifest["task"]
    print(f"model {Path(args.model).resolve().name} (hash {twin.model_hash}), {len(prepared.names)} sequences / "
          f"{int(prepared.lengths.sum())} steps from {rec.path} "
          f"({prepared.downsample} frame(s) per step, pre-processed as the C library's push_float)")
    header, *lines = recordings.table_lines(rows, task)
    print(header)
    for i, line in enumerate(lines):
        print(line)
        if args.steps:
            for t in range(int(prepared.lengths[i])):
                values = recordings.to_user_units(twin_out[i, t], manifest)
                print(f"    step {t:4d}: " + " ".join(f"{v:.4f}" for v in values))
    if prepared.skipped:
        print(f"skipped {len(prepared.skipped)} sequence(s) shorter than one step of {prepared.downsample} frames: "
              + ", ".join(prepared.skipped[:5]) + (" ..." if len(prepared.skipped) > 5 else ""))
    print(recordings.figure_line(figures, task))
    if args.json:
        out = {"model": str(Path(args.model).resolve()), "model_hash": twin.model_hash, "file": str(rec.path),
               "task": task, "downsample": prepared.downsample, "skipped": prepared.skipped,
               "figures": figures, "sequences": rows,
               "twin_outputs_q": [twin_q[i, :n].tolist() for i, n in enumerate(prepared.lengths)]}
        write_output(args.json, json.dumps(out, indent=1, default=_plain) + "\n", "--json")
        print(f"written: {args.json}")
    return 0


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
