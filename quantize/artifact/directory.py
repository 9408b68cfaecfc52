"""The artifact directory (docs/artifacts.md): the one place that opens, checks and writes it.

`Artifact.open(path)` checks once what every stage relies on (the directory and its model.json are there,
model.json is a manifest of a format this version reads, its model hash is well formed); each stage then asks
for what it needs (`require`, `require_shape`, `weights`, `test_split`, `kernel`, `c_dir`, `board_runs`) and
gets a one-line `UserError` naming the file and what to do when it is not there.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact.board_run import RESULTS_NAME, BoardRun
from tinyrnn.quantize.artifact.manifest import FORMAT_VERSION, HASH_PATTERN, Manifest
from tinyrnn.quantize.artifact.record import write_text_atomic
from tinyrnn.quantize.errors import UserError

MANIFEST_NAME = "model.json"
WEIGHTS_NAME = "weights.npz"
TEST_SPLIT_NAME = "test_split.npz"
METRICS_NAME = "metrics.json"
INT8_TFLITE_NAME = "model_int8.tflite"     # the int8 TFLite reference (the LiteRT interpreter runs it)
KERAS_MODEL_NAME = "model.keras"           # the float sequence model (trained here; imports keep the user's file)
STEP_MODEL_NAME = "step_model.keras"       # the float step model (x_t, state) -> (y_t, state'), both pipelines
HW_DIR = "hw"

RETRAIN = "train the model again (tinyrnn train) or point --model at another directory"

# What each file is for, said when it is missing, with what to do.
FILE_ROLES = {
    WEIGHTS_NAME: ("the float model's weights", "train the model again (tinyrnn train)"),
    TEST_SPLIT_NAME: ("the harness streams the test split", "retrain with tinyrnn train"),
}


@dataclass(frozen=True)
class KernelFiles:
    """The fixed-point kernel's parameters as `tinyrnn export` writes them (docs/quantization.md)."""
    npz: Path
    json: Path
    bin: Path

    @property
    def present(self) -> bool:
        return self.npz.is_file() and self.json.is_file()


@dataclass(frozen=True)
class TestSplit:
    """test_split.npz: raw inputs (n, T, d), lengths (n,), targets, and the float model's per-step outputs."""
    __test__ = False        # a data class, not a pytest test class
    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    float_outputs: np.ndarray

    def arrays(self) -> dict:
        return {"x": self.x, "lengths": self.lengths, "y": self.y, "float_outputs": self.float_outputs}


def kernel_files(path) -> KernelFiles:
    """The kernel files' paths in an artifact directory (which may have no model.json: a kernel alone)."""
    path = Path(path)
    return KernelFiles(path / "kernel.npz", path / "kernel.json", path / "kernel.bin")


class Artifact:
    """One artifact directory. Construct with `open` (checked) or `create` (a writer's new directory)."""

    def __init__(self, path, manifest: Manifest):
        self.path = Path(path)
        self.manifest = manifest

    # ---- opening and creating -----------------------------------------------------------------------
    @staticmethod
    def exists(path) -> bool:
        """Whether `path` holds an artifact (a model.json), without reading it."""
        return (Path(path) / MANIFEST_NAME).is_file()

    @classmethod
    def open(cls, path) -> "Artifact":
        path = Path(path)
        if not cls.exists(path):
            raise UserError(f"{path}: not an artifact directory (no {MANIFEST_NAME})",
                            "train one with tinyrnn train, or point --model at one")
        return cls(path, read_manifest(path))

    @classmethod
    def peek(cls, path) -> Manifest | None:
        """The manifest when it is there and readable, else None: for pages that render what there is."""
        try:
            return cls.open(path).manifest
        except UserError:
            return None

    @classmethod
    def create(cls, path, manifest) -> "Artifact":
        """A writer's artifact: the directory (made if needed) with its model.json written."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        artifact = cls(path, manifest if isinstance(manifest, Manifest) else Manifest.from_dict(manifest))
        artifact.write_manifest(artifact.manifest)
        return artifact

    def write_manifest(self, manifest: Manifest) -> None:
        self.manifest = manifest
        write_text_atomic(self.path / MANIFEST_NAME, json.dumps(manifest.to_dict(), indent=2) + "\n")

    def write_weights(self, weights: dict) -> None:
        np.savez(self.path / WEIGHTS_NAME, **weights)

    def write_keras_models(self, step_model, model=None) -> None:
        """The float step model and (when trained here) the sequence model, as Keras files (their own `save`)."""
        step_model.save(self.path / STEP_MODEL_NAME)
        if model is not None:
            model.save(self.path / KERAS_MODEL_NAME)

    def write_int8_tflite(self, tflite_bytes: bytes) -> None:
        (self.path / INT8_TFLITE_NAME).write_bytes(tflite_bytes)

    def write_test_split(self, x, lengths, y, float_outputs) -> None:
        np.savez(self.path / TEST_SPLIT_NAME, x=x, lengths=lengths, y=y, float_outputs=float_outputs)

    # ---- what a stage needs -------------------------------------------------------------------------
    @property
    def model_hash(self) -> str | None:
        return self.manifest.model_hash

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def require(self, *names: str) -> "Artifact":
        """Every file in `names` is there (a one-line error for the first that is not)."""
        for name in names:
            if not self.has(name):
                role, fix = FILE_ROLES.get(name, ("written by tinyrnn train", RETRAIN))
                raise UserError(f"{self.path}: no {name} ({role})", fix)
        return self

    def require_shape(self) -> Manifest:
        """The manifest, checked to describe a model's task and shape (what the harness and recordings use)."""
        missing = self.manifest.missing("task", "input_dim", "output_dim")
        if missing:
            raise UserError(f"{self.path}: {MANIFEST_NAME} is not an artifact manifest ({', '.join(missing)} missing)",
                            RETRAIN)
        return self.manifest

    def weights(self) -> dict:
        """weights.npz: the float weights by name (docs/artifacts.md)."""
        self.require(WEIGHTS_NAME)
        path = self.path / WEIGHTS_NAME
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:   # not a zip, truncated, object arrays
            raise UserError(f"{path} is not a readable weights file ({type(err).__name__})",
                            "re-run tinyrnn train to write it again") from None

    def test_split(self) -> TestSplit:
        """test_split.npz, checked: every array there, shapes that agree with each other and the manifest."""
        self.require(TEST_SPLIT_NAME)
        path = self.path / TEST_SPLIT_NAME
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise UserError(f"{path}: unreadable ({type(err).__name__}: {' '.join(str(err).split())})",
                            "the file is damaged or truncated: train or export the model again") from None
        missing = {"x", "lengths", "y", "float_outputs"} - set(arrays)
        if missing:
            raise UserError(f"{path} lacks {', '.join(sorted(missing))}", RETRAIN)
        split = TestSplit(arrays["x"], arrays["lengths"], arrays["y"], arrays["float_outputs"])
        if not self._fits(split):
            raise UserError(f"{path}: shapes x {split.x.shape}, lengths {split.lengths.shape}, float_outputs "
                            f"{split.float_outputs.shape} do not fit a model of "
                            f"{self.manifest.input_dim} inputs and {self.manifest.output_dim} outputs", RETRAIN)
        return split

    def _fits(self, split: TestSplit) -> bool:
        """x (n, T, d) and float_outputs (n, T, k) with the manifest's d and k, one length and target each."""
        n = len(split.lengths)
        d, k = self.manifest.input_dim, self.manifest.output_dim
        x, outputs = split.x, split.float_outputs
        return (x.ndim == 3 and outputs.ndim == 3 and len(x) == n and len(split.y) == n
                and outputs.shape[:2] == x.shape[:2]
                and d in (None, x.shape[-1]) and k in (None, outputs.shape[-1]))

    @property
    def kernel(self) -> KernelFiles:
        return kernel_files(self.path)

    @property
    def c_dir(self) -> Path:
        """c/: the generated model_data.h/.c."""
        return self.path / "c"

    # ---- metrics.json -------------------------------------------------------------------------------
    def metrics(self) -> dict | None:
        return read_metrics(self.path)

    def write_metrics(self, metrics: dict) -> None:
        write_text_atomic(self.path / METRICS_NAME, json.dumps(metrics, indent=2, default=float) + "\n")

    # ---- board runs: hw/<board>/results.json ----------------------------------------------------------
    def run_dir(self, board_name: str, limit: int | None = None, stopped: bool = False, inputs=None) -> Path:
        return board_run_dir(self.path, board_name, limit, stopped, inputs)

    def board_runs(self, complete_only: bool = True) -> list[tuple[Path, BoardRun]]:
        return board_runs(self.path, complete_only)


def read_metrics(artifact_dir) -> dict | None:
    """metrics.json when it is there and readable (an artifact exported alone has none yet)."""
    try:
        data = json.loads((Path(artifact_dir) / METRICS_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def board_run_dir(artifact_dir, board_name: str, limit: int | None = None, stopped: bool = False,
                  inputs=None) -> Path:
    """hw/<board>/ for a full run; hw/<board>-limit<N>/ for a partial one, and <board>-stopped/ (or
    <board>-limit<N>-stopped/) for a run the link stopped. A run on the user's recordings goes to
    inputs/<file stem>/<board>.../ instead: never among the test split's board figures."""
    name = board_name if limit is None else f"{board_name}-limit{limit}"
    top = Path(artifact_dir) / HW_DIR if inputs is None else Path(artifact_dir) / "inputs" / Path(inputs).stem
    return top / (f"{name}-stopped" if stopped else name)


def board_runs(artifact_dir, complete_only: bool = True) -> list[tuple[Path, BoardRun]]:
    """(run directory, results) of every board run under hw/ that can be read, by directory name; by default
    only complete runs (partial --limit runs and runs the link stopped are not a board's figures). Needs no
    model.json: a report is rendered from whatever the directory holds."""
    runs = []
    for path in sorted((Path(artifact_dir) / HW_DIR).glob(f"*/{RESULTS_NAME}")):
        try:
            run = BoardRun.read(path.parent)
        except UserError:
            continue
        if run.board is not None and (run.complete or not complete_only):
            runs.append((path.parent, run))
    return runs


def read_manifest(path: Path) -> Manifest:
    """model.json of `path`, checked: a JSON object, a format this version reads, a well-formed hash."""
    file = path / MANIFEST_NAME
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read {MANIFEST_NAME} ({' '.join(str(e).split())})", RETRAIN) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: {MANIFEST_NAME} is not an artifact manifest (a JSON {type(data).__name__})", RETRAIN)
    version = data.get("format", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{path}: {MANIFEST_NAME} format {version!r} is not an artifact format version", RETRAIN)
    if version > FORMAT_VERSION:
        raise UserError(f"{path}: {MANIFEST_NAME} is artifact format {version}; this tinyrnn reads format "
                        f"{FORMAT_VERSION}", "upgrade tinyrnn, or train the model again with this version")
    value = data.get("model_hash")
    if value is not None and not (isinstance(value, str) and HASH_PATTERN.fullmatch(value)):
        raise UserError(f"{path}: {MANIFEST_NAME} model_hash {value!r} is not 16 lowercase hex digits",
                        "re-run tinyrnn export on the model")
    for key in ("input_dim", "output_dim", "units", "layers"):
        if key in data and not (isinstance(data[key], int) and not isinstance(data[key], bool) and data[key] >= 1):
            raise UserError(f"{path}: {MANIFEST_NAME} {key} {data[key]!r} is not a positive integer", RETRAIN)
    return Manifest.from_dict(data)
