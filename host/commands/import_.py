"""Import a recurrent model trained elsewhere (Keras, PyTorch, ONNX) into an artifact directory.

Reads the model with its framework's own loader, refuses in one line what the fixed-point kernel cannot run,
and writes the same artifact directory `tinyrnn train` writes (docs/artifacts.md), so flash, harness, hwtest,
export, predict and the report work on it unchanged. The float reference in the artifact is the framework's own
output after every step on the test split of --data; the import is post-training quantization, or int8-grid
fine-tuning in the model's own framework (Keras, PyTorch) with --fine-tune-epochs (docs/import.md).
"""
import dataclasses

from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_replaceable_out
from tinyrnn.host.importers.pipeline import ImportRequest, run as run_import
from tinyrnn.host.training.data import CLASSIFICATION, REGRESSION

EXAMPLES = """\
  {prog} model.keras --data my_sequences.csv                # -> build/model/
  {prog} legacy.h5 --data recordings.npz --out build/mine --force
  {prog} model.pt --data my_sequences.csv                   # TorchScript (pip install 'tinyrnn[torch]')
  {prog} model.pt2 --data my_sequences.csv                  # torch.export program
  {prog} model.onnx --data my_sequences.csv                 # ONNX (pip install 'tinyrnn[onnx]')
  {prog} model.pt --data my_sequences.csv --fine-tune-epochs 5   # int8-grid fine-tuning in PyTorch

supported (docs/import.md): GRU (reset_after true or false) or LSTM, 1-3 stacked layers, then one dense head
(softmax or linear); input normalisation (Keras Normalization/Rescaling, PyTorch mean/std buffers, ONNX Sub/Div),
masking and dropout."""

DEFAULTS = ImportRequest(model="", data="")


def add_arguments(p):
    p.add_argument("model", metavar="MODEL",
                   help="the trained model file: Keras .keras/.h5, TorchScript .pt, torch.export .pt2 or .onnx")
    src = p.add_argument_group("data")
    src.add_argument("--data", metavar="FILE", required=True,
                     help="labelled sequences, .csv or .npz (docs/data-formats.md): calibration and the test split")
    src.add_argument("--task", choices=[CLASSIFICATION, REGRESSION],
                     help="force the task (default: classification for a softmax head, else from the labels)")
    src.add_argument("--group-column", metavar="NAME", help="CSV column naming each sequence's subject or session "
                     "(the automatic test split holds out whole groups)")
    src.add_argument("--test-fraction", type=float, metavar="F", default=DEFAULTS.test_fraction,
                     help="share held out for testing when --data has no test split "
                          f"(default {DEFAULTS.test_fraction})")
    q = p.add_argument_group("quantization")
    q.add_argument("--calibration-samples", type=int, metavar="N", default=DEFAULTS.calibration_samples,
                   help=f"(x_t, state) samples for int8 calibration (default {DEFAULTS.calibration_samples})")
    q.add_argument("--fine-tune-epochs", type=at_least(0), metavar="N", default=DEFAULTS.fine_tune_epochs,
                   help="Keras and PyTorch (TorchScript) models: N epochs of int8-grid fine-tuning in the "
                        "model's framework on --data's training split (a straight-through estimator), so the "
                        "model's weight matrices become the kernel's int8 values; the fine-tuned model is saved in "
                        f"the artifact directory; 0: post-training quantization (default {DEFAULTS.fine_tune_epochs})")
    q.add_argument("--fine-tune-lr", type=at_least(0, float, exclusive=True), metavar="LR",
                   default=DEFAULTS.fine_tune_lr,
                   help=f"Adam learning rate of the fine-tuning (default {DEFAULTS.fine_tune_lr})")
    q.add_argument("--seed", type=int, metavar="N", default=DEFAULTS.seed,
                   help=f"seed of the test split and calibration samples (default {DEFAULTS.seed})")
    o = p.add_argument_group("output")
    add_replaceable_out(o, what="artifact directory", default_note="build/<model file name>/")
    o.add_argument("--quiet", action="store_true", help="no progress bars or stage messages")


def request_from(args) -> ImportRequest:
    return ImportRequest(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ImportRequest)})


def run(args) -> int:
    return run_import(request_from(args))
