"""What every importer hands to the pipeline: one recurrent model in the kernel's terms."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.twin.params import MAX_DIM, MAX_LAYERS

SOFTMAX, LINEAR = "softmax", "linear"


class LayoutRefused(Exception):
    """The framework refused the inputs in one reading of its input layout (the next reading is tried)."""


@dataclass
class ImportedModel:
    """A GRU/LSTM stack with one dense head, read from a framework's file.

    `weights` is weights.npz's layout (docs/artifacts.md: Keras gate order, GRU biases as the kernel takes them)
    for inputs after the model's own normalisation `norm` ((mean, std), None when the model has none).
    `step_outputs(x, lengths)` runs the framework itself on raw padded inputs (n, T, d) and returns its head output
    after every step (n, T, k): the float reference the artifact records."""
    source: str                 # e.g. "Keras model.keras"
    cell: str                   # "gru" or "lstm"
    units: int
    layers: int
    reset_after: bool           # GRU only
    input_dim: int
    output_dim: int
    head: str                   # SOFTMAX or LINEAR
    weights: dict
    norm: tuple | None
    step_outputs: Callable[[np.ndarray], np.ndarray]
    notes: list = field(default_factory=list)
    # Other readings of the framework's input layout (a PyTorch module may take (T, n, d)), tried in turn when
    # `step_outputs` disagrees with the kernel's step.
    other_layouts: list = field(default_factory=list)
    # The framework's loaded model, for int8-grid fine-tuning in that framework (Keras only so far).
    framework_model: object = None

    def check_bounds(self, where: str) -> None:
        """The kernel's size limits, refused in one line naming where the model breaks them."""
        if not 1 <= self.layers <= MAX_LAYERS:
            raise UserError(f"{where}: {self.layers} recurrent layers; the kernel runs 1 to {MAX_LAYERS}",
                            "use fewer stacked layers")
        for what, value in (("inputs", self.input_dim), ("units", self.units), ("outputs", self.output_dim)):
            if value > MAX_DIM:
                raise UserError(f"{where}: {value} {what}; the kernel takes at most {MAX_DIM}",
                                f"use at most {MAX_DIM} {what}")


def refuse(where: str, what: str, supported: str) -> UserError:
    """The one-line refusal of a construct the kernel cannot run: where it is, what it is, what works."""
    return UserError(f"{where}: {what} is not supported by the tinyrnn kernel", f"supported: {supported}")


SUPPORTED = ("unidirectional GRU (reset_after true or false) or LSTM layers with tanh/sigmoid activations, "
             f"1-{MAX_LAYERS} stacked, up to {MAX_DIM} units, then one dense head (softmax or linear); "
             "optional input normalisation, masking and dropout")


def fold_input_norm(weights: dict, mean: np.ndarray, std: np.ndarray) -> dict:
    """weights that take (x - mean) / std and compute what `weights` computed on x: layer 0's input kernel
    scaled by std per input channel, and mean's contribution moved into its input bias. Exact in real numbers."""
    out = dict(weights)
    kernel = np.asarray(weights["layer0_kernel"], np.float64)
    bias = np.array(weights["layer0_bias"], np.float64)
    shift = np.asarray(mean, np.float64) @ kernel
    if bias.ndim == 2:          # GRU reset_after: row 0 is the input bias
        bias[0] += shift
    else:
        bias += shift
    out["layer0_kernel"] = (kernel * np.asarray(std, np.float64)[:, None]).astype(np.float32)
    out["layer0_bias"] = bias.astype(np.float32)
    return out


def fold_target_norm(weights: dict, mean: np.ndarray, std: np.ndarray) -> dict:
    """weights whose head outputs (y - mean) / std, the normalised targets a regression artifact holds."""
    out = dict(weights)
    std = np.asarray(std, np.float64)
    out["head_kernel"] = (np.asarray(weights["head_kernel"], np.float64) / std).astype(np.float32)
    out["head_bias"] = ((np.asarray(weights["head_bias"], np.float64) - mean) / std).astype(np.float32)
    return out
