"""The fixed-point kernel's parameters (`KernelParams`) and their file forms (kernel.npz/kernel.json/kernel.bin).

`KernelParams` is what the twin runs, what `emit.c_code` writes as C and what `kernel.npz`/`kernel.bin` hold;
`quantizer.py` computes it from float weights.
Its canonical byte form (`KernelParams.to_bytes`, also written as `kernel.bin`) defines the model hash.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.images import (KERNEL_BIN_ALIGN, KERNEL_BIN_FORMAT, KERNEL_BIN_HEADER, KERNEL_BIN_MAGIC,
                                          KERNEL_BIN_PRODUCT, KERNEL_SPEC_VERSION)

# Identifiers shared with the C side (tests/test_kernel_c.py checks the enums in tinyrnn.h equal these).
CELL_IDS = {"gru_reset_after": 0, "gru_reset_before": 1, "lstm": 2}
HEAD_IDS = {"softmax": 0, "linear": 1}

MAX_DIM = 256          # input_dim, units, output_dim: keeps every int32/int64 intermediate in range
MAX_LAYERS = 3          # stacked recurrent layers (tests cover 1-3)
MAX_ABS_BIAS = 2.0**14  # |bias| bound that keeps the int64 requantisation sum in range
GATES_PER_CELL = {"gru": 3, "lstm": 4}

SUPPORTED = ("supported: GRU (reset_after True or False, tanh/sigmoid) or LSTM (tanh/sigmoid, no peepholes), "
             f"1-{MAX_LAYERS} stacked unidirectional layers, dims <= {MAX_DIM}, "
             "softmax head (classification) or linear head (regression)")


class UnsupportedModel(ValueError):
    """The model cannot be converted to the fixed-point kernel; the message says why and what is supported."""


class DamagedKernelFiles(UnsupportedModel):
    """kernel.json / kernel.npz are there but cannot be read as export writes them (truncated, altered, another
    format); the message names the exception that reading them met."""


# What reading kernel.json / kernel.npz meets when the files are damaged: the file's fault, not a bug.
DAMAGED_FILE_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


@dataclass
class Dense:
    """One fused matrix-vector product + requantisation: out = (B + (Wa a)*Ma + (Wb b)*Mb) >> 32, Q14.

    `weights_b` has zero columns when the product has a single input segment.
    """
    weights_a: np.ndarray   # int8 (rows, cols_a)
    weights_b: np.ndarray   # int8 (rows, cols_b)
    bias: np.ndarray        # int64 (rows,), includes the 2^31 rounding constant
    mult_a: np.ndarray      # int32 (rows,)
    mult_b: np.ndarray      # int32 (rows,)

    @property
    def rows(self) -> int:
        return self.weights_a.shape[0]

    def product(self, a, b=None):
        """Q14 pre-activations for input vectors a (..., cols_a) and b (..., cols_b)."""
        acc_a = np.asarray(a, dtype=np.int64) @ self.weights_a.T.astype(np.int64)
        if self.weights_b.shape[1]:
            acc_b = np.asarray(b, dtype=np.int64) @ self.weights_b.T.astype(np.int64)
        else:
            acc_b = 0
        return fp.requant_q14(self.bias, acc_a, self.mult_a, acc_b, self.mult_b)

    def arrays(self):
        return {"weights_a": self.weights_a, "weights_b": self.weights_b, "bias": self.bias,
                "mult_a": self.mult_a, "mult_b": self.mult_b}


# The products of each cell kind, in order (also their C names: tinyrnn_l<l>_<name>_...).
DENSE_NAMES = {
    "gru_reset_after": ("gates", "candidate", "candidate_recurrent"),  # (x,h)->z,r; x->W_n x+b_in; h->U_n h+b_hn
    "gru_reset_before": ("gates", "candidate"),                         # (x,h)->z,r; (x, r*h)->n
    "lstm": ("gates",),                                                  # (x,h)->i,f,g,o
}


@dataclass
class KernelParams:
    cell_kind: str                    # key of CELL_IDS
    head_kind: str                    # key of HEAD_IDS
    input_dim: int
    units: int
    output_dim: int
    input_frac_bits: int
    norm_mean: np.ndarray             # float32 (input_dim,)
    norm_std: np.ndarray              # float32 (input_dim,), zeros replaced by 1
    layers: list = field(default_factory=list)   # list of dict name -> Dense
    head: Dense | None = None

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def cell_id(self) -> int:
        return CELL_IDS[self.cell_kind]

    @property
    def head_id(self) -> int:
        return HEAD_IDS[self.head_kind]

    def dense_items(self):
        """(prefix, Dense) in canonical order: l0_gates, l0_candidate, ..., head."""
        for index, layer in enumerate(self.layers):
            for name in DENSE_NAMES[self.cell_kind]:
                yield f"l{index}_{name}", layer[name]
        yield "head", self.head

    # ---- canonical bytes, hash, kernel.bin ------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The kernel.bin layout (quantize/twin/images.py; docs/quantization.md, "kernel.bin"), little-endian."""
        out = bytearray()
        out += struct.pack(KERNEL_BIN_HEADER.format, KERNEL_BIN_MAGIC, KERNEL_BIN_FORMAT, KERNEL_SPEC_VERSION,
                           self.cell_id, self.head_id, self.num_layers, 0, self.input_dim, self.units,
                           self.output_dim, self.input_frac_bits, 0)
        out += self.norm_mean.astype("<f4").tobytes() + self.norm_std.astype("<f4").tobytes()
        for _, dense in self.dense_items():
            out += struct.pack(KERNEL_BIN_PRODUCT.format, dense.rows, dense.weights_a.shape[1],
                               dense.weights_b.shape[1], 0)
            out += dense.bias.astype("<i8").tobytes()
            out += dense.mult_a.astype("<i4").tobytes() + dense.mult_b.astype("<i4").tobytes()
            out += dense.weights_a.astype("i1").tobytes() + dense.weights_b.astype("i1").tobytes()
            out += bytes(-len(out) % KERNEL_BIN_ALIGN)
        return bytes(out)

    @property
    def model_hash(self) -> str:
        return hashlib.sha256(self.to_bytes()).digest()[:8].hex()

    @staticmethod
    def check_kernel_bin(directory: Path) -> Path:
        """kernel.bin of an artifact directory, checked against the model hash kernel.json records (the hash is
        SHA-256 over kernel.bin's bytes, so a truncated or altered file cannot pass); returns its path."""
        path = Path(directory) / "kernel.bin"
        try:
            data = path.read_bytes()
            expected = json.loads((Path(directory) / "kernel.json").read_text())["model_hash"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UnsupportedModel(f"{directory}: cannot check kernel.bin ({type(e).__name__}: {e}); "
                                   "re-run tinyrnn export") from None
        actual = hashlib.sha256(data).digest()[:8].hex()
        if actual != expected:
            raise UnsupportedModel(f"{path}: {len(data):,} bytes hashing to {actual}, not the model's {expected} "
                                   "(truncated or altered); re-run tinyrnn export")
        return path

    # ---- kernel.npz / kernel.json ---------------------------------------------------------------
    def meta(self) -> dict:
        return {"format": 1, "spec_version": KERNEL_SPEC_VERSION, "model_hash": self.model_hash,
                "cell": self.cell_kind, "cell_id": self.cell_id, "head": self.head_kind, "head_id": self.head_id,
                "input_dim": self.input_dim, "units": self.units, "output_dim": self.output_dim,
                "layers": self.num_layers, "input_frac_bits": self.input_frac_bits,
                "formats": {"input": f"Q{self.input_frac_bits} int16", "state": "Q15 int16", "cell": "Q14 int32",
                            "preact": "Q14 int32",
                            "output": "Q15 probability" if self.head_kind == "softmax" else "Q14 normalised"}}

    def save(self, directory: Path) -> None:
        arrays = {"norm_mean": self.norm_mean, "norm_std": self.norm_std}
        for prefix, dense in self.dense_items():
            for key, value in dense.arrays().items():
                arrays[f"{prefix}_{key}"] = value
        np.savez(directory / "kernel.npz", **arrays)
        (directory / "kernel.json").write_text(json.dumps(self.meta(), indent=2) + "\n")
        (directory / "kernel.bin").write_bytes(self.to_bytes())

    @classmethod
    def load(cls, directory: Path) -> "KernelParams":
        """kernel.json + kernel.npz; DamagedKernelFiles when they cannot be read as export writes them."""
        try:
            params, recorded_hash = cls._read(Path(directory))
            actual_hash = params.model_hash         # serialises every array: wrong shapes or types show here
        except UnsupportedModel:
            raise
        except DAMAGED_FILE_ERRORS as e:
            raise DamagedKernelFiles(f"{type(e).__name__}: {' '.join(str(e).split())}") from None
        if actual_hash != recorded_hash:
            raise UnsupportedModel(f"{directory}: kernel.npz does not match the hash in kernel.json")
        return params

    @classmethod
    def _read(cls, directory: Path) -> tuple["KernelParams", str]:
        meta = json.loads((directory / "kernel.json").read_text())
        with np.load(directory / "kernel.npz") as data:
            arrays = {k: data[k] for k in data.files}
        params = cls(cell_kind=meta["cell"], head_kind=meta["head"], input_dim=meta["input_dim"],
                     units=meta["units"], output_dim=meta["output_dim"], input_frac_bits=meta["input_frac_bits"],
                     norm_mean=arrays["norm_mean"], norm_std=arrays["norm_std"])

        def dense(prefix):
            return Dense(**{k: arrays[f"{prefix}_{k}"] for k in
                            ("weights_a", "weights_b", "bias", "mult_a", "mult_b")})
        params.layers = [{name: dense(f"l{i}_{name}") for name in DENSE_NAMES[params.cell_kind]}
                         for i in range(meta["layers"])]
        params.head = dense("head")
        return params, meta["model_hash"]
