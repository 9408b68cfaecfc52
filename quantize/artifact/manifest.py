"""`model.json`, the artifact's manifest, as a typed value (its fields are documented in docs/artifacts.md)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tinyrnn.quantize.artifact.record import JsonRecord

# The artifact directory's format (docs/artifacts.md). A model.json without "format" is read as this version.
FORMAT_VERSION = 1

HASH_PATTERN = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Manifest(JsonRecord, Mapping):
    """The fields of model.json. Every field is optional here: a stage that needs some asks for them
    (`Artifact.require_shape`); `Artifact.open` checks what every stage relies on (format, model_hash).

    It also reads as the JSON object (`manifest["task"]`, `.get`, `**manifest`), so the helpers that take
    model.json's dict (the float model, the quantizer's checks, the recordings) take a Manifest unchanged."""

    format: int = FORMAT_VERSION
    dataset: str | None = None
    task: str | None = None                 # "classification" or "regression"
    classes: list | None = None             # classification: index = class id
    input_dim: int | None = None
    output_dim: int | None = None
    cell: str | None = None                 # "gru" or "lstm"
    units: int | None = None
    layers: int | None = None
    reset_after: bool | None = None         # GRU only
    channels: list | None = None            # the input channels' names (a CSV's columns), in input order
    norm: dict | None = None                # {"mean": [...], "std": [...]} per input channel
    target_norm: dict | None = None         # regression only: outputs are normalised targets
    seed: int | None = None
    epochs: int | None = None
    max_len: int | None = None
    downsample: int | None = None           # raw frames averaged into one step
    sample_rate_hz: float | None = None
    model_hash: str | None = None           # null until export: 16 hex digits of kernel.bin's SHA-256
    int8_grid_epochs: int | None = None

    def missing(self, *names: str) -> list:
        return [name for name in names if getattr(self, name) is None]

    # ---- read-only mapping over the JSON object ---------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())
