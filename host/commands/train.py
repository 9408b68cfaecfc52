"""Train a GRU/LSTM on sensor sequences and write a complete artifact directory.

Trains the float Keras model, fine-tunes it onto the kernel's int8 grid, converts the step model to int8
TFLite, quantizes it for the fixed-point kernel (generated C + the twin's figures) and writes a report, all
into one artifact directory (docs/artifacts.md), written atomically, never overwritten without --force.
"""
import argparse
import dataclasses

from tinyrnn.host.commands.options import add_replaceable_out
from tinyrnn.host.training.data import BUNDLED, CLASSIFICATION, REGRESSION
from tinyrnn.host.training.pipeline import DEFAULT_DATASET, FILE_DEFAULTS, TrainRequest, run as run_pipeline
from tinyrnn.quantize.twin.params import MAX_DIM, MAX_LAYERS

EXAMPLES = """\
  {prog}                                         # GRU(32) on BasicMotions -> build/basic_motions-gru32/
  {prog} --dataset japanese_vowels --cell lstm
  {prog} --data my_sequences.csv --units 16 --layers 2 --out build/mine

data files (--data FILE; details in docs/data-formats.md):
  CSV, long format, one row per time step, header row required:
      sequence_id,label,ch0,ch1,...        (optional column 'split' = train|test)
    rows of a sequence are its steps in file order; every row of a sequence repeats its label.
  NPZ (numpy.savez):
      x        object array of (length, channels) arrays, or padded (n, max_len, channels) float
      lengths  (n,) int, real lengths when x is padded (optional: default full length)
      y        (n,) class labels (int/str) or (n,) / (n, k) float regression targets
      x_test, y_test, lengths_test   optional test split
  Without a test split, --test-fraction of the sequences (stratified by class) are held out (seeded).
  Integer/string labels mean classification, float targets regression (override with --task).

bundled data sets:
""" + "\n".join(f"  {name:20s} {spec.summary}" for name, spec in BUNDLED.items()).replace("{", "{{").replace("}", "}}")


DEFAULTS = TrainRequest()      # the options' defaults are the request's


def add_arguments(p):
    src = p.add_argument_group("data")
    src.add_argument("--dataset", metavar="NAME", help=f"bundled data set (default {DEFAULT_DATASET}): "
                     + ", ".join(BUNDLED))
    src.add_argument("--data", metavar="FILE", help="your own labelled sequences, .csv or .npz (formats below)")
    src.add_argument("--task", choices=[CLASSIFICATION, REGRESSION],
                     help="force the task (default: inferred from the labels)")
    src.add_argument("--group-column", metavar="NAME",
                     help="CSV column naming each sequence's subject or session: the automatic test split then "
                          "holds out whole groups (an NPZ gives them as an array 'groups')")
    src.add_argument("--channels", metavar="A,B,...",
                     help="CSV columns to take as input channels, in this order (default: every column but "
                          "sequence_id, label, split and --group-column; training prints the ones it took)")
    src.add_argument("--test-fraction", type=float, metavar="F", default=DEFAULTS.test_fraction,
                     help="share held out for testing when --data has no test split "
                          f"(default {DEFAULTS.test_fraction})")
    src.add_argument("--downsample", type=int, metavar="K",
                     help="average blocks of K frames (shortens long sequences; plaid defaults to 8)")
    src.add_argument("--max-len", type=int, metavar="N", help="keep only the first N steps of each sequence")

    m = p.add_argument_group("model")
    m.add_argument("--cell", choices=["gru", "lstm"], default=DEFAULTS.cell,
                   help=f"recurrent cell (default {DEFAULTS.cell})")
    m.add_argument("--units", type=int, metavar="N", default=DEFAULTS.units,
                   help=f"hidden units per layer, 1-{MAX_DIM} (default {DEFAULTS.units})")
    m.add_argument("--layers", type=int, metavar="N", default=DEFAULTS.layers,
                   help=f"stacked recurrent layers, 1-{MAX_LAYERS} (default {DEFAULTS.layers})")
    m.add_argument("--reset-after", action=argparse.BooleanOptionalAction, default=None,
                   help="GRU only: apply the reset gate after the recurrent matmul (Keras default: yes)")

    t = p.add_argument_group("training")
    own = "default: the bundled set's own; {} for --data files"
    t.add_argument("--epochs", type=int, metavar="N",
                   help=f"training epochs ({own.format(FILE_DEFAULTS['epochs'])})")
    t.add_argument("--batch-size", type=int, metavar="N",
                   help=f"mini-batch size ({own.format(FILE_DEFAULTS['batch_size'])})")
    t.add_argument("--lr", type=float, metavar="LR",
                   help=f"Adam learning rate ({own.format(FILE_DEFAULTS['learning_rate'])})")
    t.add_argument("--seed", type=int, metavar="N", default=DEFAULTS.seed,
                   help=f"random seed; same seed, same model (default {DEFAULTS.seed})")
    t.add_argument("--grid-epochs", type=int, metavar="N", default=DEFAULTS.grid_epochs,
                   help="int8-grid fine-tuning epochs after training (host/training/qat.py): the shipped float weights "
                        "become exactly the kernel's int8 values, so the board differs from the float model "
                        "by its arithmetic alone; 0 ships the trained weights unchanged "
                        f"(default {DEFAULTS.grid_epochs})")
    t.add_argument("--calibration-samples", type=int, metavar="N", default=DEFAULTS.calibration_samples,
                   help=f"(x_t, state) samples for int8 calibration (default {DEFAULTS.calibration_samples})")

    o = p.add_argument_group("output")
    add_replaceable_out(o, what="artifact directory", default_note="build/<dataset>-<cell><units>[x<layers>]/")
    o.add_argument("--quiet", action="store_true", help="no progress bars or stage messages")


def request_from(args) -> TrainRequest:
    """The typed request the training library takes: every option by its field name (no Namespace below here)."""
    return TrainRequest(**{field.name: getattr(args, field.name) for field in dataclasses.fields(TrainRequest)})


def run(args) -> int:
    return run_pipeline(request_from(args))
