"""The kernel's quantization: float weights (weights.npz + model.json) -> fixed-point kernel parameters.

Implements docs/quantization.md ("Requantisation", "GRU step", "LSTM step", "Head"). The result,
`KernelParams`, is what the twin runs, what `codegen` writes as C and what `kernel.npz`/`kernel.bin` hold.
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

from . import fixedpoint as fp

# Bump when the kernel arithmetic changes in a way that changes outputs for the same parameters:
# it is part of the hashed bytes, so a board running old kernel code is told apart.
KERNEL_SPEC_VERSION = 1
KERNEL_BIN_MAGIC = b"TRNK"
KERNEL_BIN_FORMAT = 1

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
        """The kernel.bin layout (docs/quantization.md, "kernel.bin"), little-endian."""
        out = bytearray()
        out += KERNEL_BIN_MAGIC
        out += struct.pack("<BBBBBBHHHBB", KERNEL_BIN_FORMAT, KERNEL_SPEC_VERSION, self.cell_id, self.head_id,
                           self.num_layers, 0, self.input_dim, self.units, self.output_dim,
                           self.input_frac_bits, 0)
        out += self.norm_mean.astype("<f4").tobytes() + self.norm_std.astype("<f4").tobytes()
        for _, dense in self.dense_items():
            out += struct.pack("<HHHH", dense.rows, dense.weights_a.shape[1], dense.weights_b.shape[1], 0)
            out += dense.bias.astype("<i8").tobytes()
            out += dense.mult_a.astype("<i4").tobytes() + dense.mult_b.astype("<i4").tobytes()
            out += dense.weights_a.astype("i1").tobytes() + dense.weights_b.astype("i1").tobytes()
            out += bytes(-len(out) % 4)
        return bytes(out)

    @property
    def model_hash(self) -> str:
        return hashlib.sha256(self.to_bytes()).digest()[:8].hex()

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
        if params.model_hash != meta["model_hash"]:
            raise UnsupportedModel(f"{directory}: kernel.npz does not match the hash in kernel.json")
        return params


# ---- quantization rules ----------------------------------------------------------------------------

def quantize_rows(w_rows: np.ndarray):
    """Per-row symmetric int8: s_row = max|w_row| / 127, q = round(w / s). Returns (q int8, s float64)."""
    w = np.asarray(w_rows, dtype=np.float64)
    scale = np.abs(w).max(axis=1) / 127.0 if w.shape[1] else np.zeros(w.shape[0])
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.round(w / safe[:, None]), -127, 127).astype(np.int8)
    return q, scale


def snap_to_int8_grid(matrix: np.ndarray) -> np.ndarray:
    """A Keras-layout weight matrix (inputs, units) rounded to the values the kernel stores: per unit (column)
    symmetric int8, dequantized. quantize_rows gives back exactly the same int8 values for the result."""
    q, scale = quantize_rows(np.asarray(matrix, dtype=np.float64).T)
    return (q.astype(np.float64) * scale[:, None]).T


def multiplier(scale: np.ndarray, input_frac_bits: int) -> np.ndarray:
    """M = round(s * 2^(32 + 14 - fx)) (int64 array; the caller checks it fits an int32)."""
    return np.round(scale * 2.0 ** (fp.REQUANT_SHIFT + fp.PREACT_FRAC_BITS - input_frac_bits)).astype(np.int64)


def bias_q(b: np.ndarray) -> np.ndarray:
    """B = round(b * 2^(32 + 14)) + 2^31: the bias and the rounding constant of the >> 32."""
    b = np.asarray(b, dtype=np.float64)
    return np.round(b * 2.0 ** (fp.REQUANT_SHIFT + fp.PREACT_FRAC_BITS)).astype(np.int64) + (1 << 31)


def make_dense(w_a: np.ndarray, fx_a: int, bias: np.ndarray, w_b: np.ndarray | None = None,
               fx_b: int = fp.STATE_FRAC_BITS, what: str = "") -> Dense:
    """Quantize rows [w_a | w_b] (float, (rows, cols)) fed by inputs in Q(fx_a) and Q(fx_b)."""
    rows = w_a.shape[0]
    if w_b is None:
        w_b = np.zeros((rows, 0))
    qa, sa = quantize_rows(w_a)
    qb, sb = quantize_rows(w_b)
    ma, mb = multiplier(sa, fx_a), multiplier(sb, fx_b)
    for m, part in ((ma, "input"), (mb, "recurrent")):
        if m.size and m.max() > fp.INT32_MAX:
            raise UnsupportedModel(f"{what}: {part} weights too large for the int32 multiplier "
                                   f"(max |w| {np.abs(w_a if part == 'input' else w_b).max():.1f}); {SUPPORTED}")
    if np.abs(bias).max(initial=0) >= MAX_ABS_BIAS:
        raise UnsupportedModel(f"{what}: bias magnitude >= {MAX_ABS_BIAS:g}")
    return Dense(weights_a=qa, weights_b=qb, bias=bias_q(bias), mult_a=ma.astype(np.int32),
                 mult_b=mb.astype(np.int32))


def choose_input_frac_bits(layer0_kernel: np.ndarray) -> int:
    """xf = 11, or the smallest larger xf for which every layer-0 input multiplier fits an int32.

    M = s * 2^(46 - xf) < 2^31 means s < 2^(xf - 15): large input weights need *more* fractional bits
    (finer input integers, so a smaller multiplier), which narrows the input range to +-2^(15 - xf)
    standard deviations. xf stops at 13 (+-4 std); beyond that the model is refused.
    """
    _, scale = quantize_rows(np.asarray(layer0_kernel, dtype=np.float64).T)
    for xf in range(fp.DEFAULT_INPUT_FRAC_BITS, fp.MAX_INPUT_FRAC_BITS + 1):
        if multiplier(scale, xf).max(initial=0) <= fp.INT32_MAX:
            return xf
    raise UnsupportedModel(f"layer 0 input weights too large (max |w| {np.abs(layer0_kernel).max():.1f}, "
                           f"limit {127 * 2.0 ** (fp.MAX_INPUT_FRAC_BITS - 15):.1f}); {SUPPORTED}")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise UnsupportedModel(f"{message}; {SUPPORTED}")


def quantize_model(manifest: dict, weights: dict) -> KernelParams:
    """Float model (model.json dict, weights.npz arrays) -> KernelParams. Raises UnsupportedModel."""
    cell = str(manifest.get("cell", "")).lower()
    _check(cell in GATES_PER_CELL, f"cell {manifest.get('cell')!r} is not supported")
    for key in ("bidirectional", "go_backwards", "stateful_bidirectional"):
        _check(not manifest.get(key), f"{key} layers are not supported")
    for key in ("activation", "recurrent_activation"):
        if key in manifest:
            want = "tanh" if key == "activation" else "sigmoid"
            _check(manifest[key] == want, f"{key} {manifest[key]!r} is not supported")
    task = manifest.get("task")
    _check(task in ("classification", "regression"), f"task {task!r} is not supported")
    d, h, k, n_layers = (int(manifest[key]) for key in ("input_dim", "units", "output_dim", "layers"))
    _check(1 <= n_layers <= MAX_LAYERS, f"{n_layers} layers")
    _check(all(1 <= v <= MAX_DIM for v in (d, h, k)), f"dimensions d={d} units={h} outputs={k}")
    reset_after = bool(manifest.get("reset_after", True))
    cell_kind = "lstm" if cell == "lstm" else ("gru_reset_after" if reset_after else "gru_reset_before")
    gates = GATES_PER_CELL[cell]

    def weight(name, shape):
        _check(name in weights, f"weights.npz has no {name}")
        value = np.asarray(weights[name], dtype=np.float64)
        _check(value.shape == shape, f"{name} has shape {value.shape}, expected {shape}")
        _check(bool(np.isfinite(value).all()), f"{name} is not finite")
        return value

    norm = manifest.get("norm") or {}
    mean = np.asarray(norm.get("mean", np.zeros(d)), dtype=np.float32)
    std = np.asarray(norm.get("std", np.ones(d)), dtype=np.float32)
    _check(mean.shape == (d,) and std.shape == (d,), "norm mean/std must have input_dim entries")
    std = np.where(std > 0, std, 1).astype(np.float32)

    xf = choose_input_frac_bits(weight("layer0_kernel", (d, gates * h)))
    params = KernelParams(cell_kind=cell_kind, head_kind="softmax" if task == "classification" else "linear",
                          input_dim=d, units=h, output_dim=k, input_frac_bits=xf, norm_mean=mean, norm_std=std)
    for l in range(n_layers):
        fan_in = d if l == 0 else h
        fx = xf if l == 0 else fp.STATE_FRAC_BITS
        W = weight(f"layer{l}_kernel", (fan_in, gates * h)).T      # rows = gate units
        U = weight(f"layer{l}_recurrent", (h, gates * h)).T
        what = f"layer {l}"
        if cell_kind == "gru_reset_after":
            b = weight(f"layer{l}_bias", (2, 3 * h))
            b_in, b_rec = b[0], b[1]
            layer = {"gates": make_dense(W[:2 * h], fx, b_in[:2 * h] + b_rec[:2 * h], U[:2 * h], what=what),
                     "candidate": make_dense(W[2 * h:], fx, b_in[2 * h:], what=what),
                     "candidate_recurrent": make_dense(U[2 * h:], fp.STATE_FRAC_BITS, b_rec[2 * h:], what=what)}
        elif cell_kind == "gru_reset_before":
            b = weight(f"layer{l}_bias", (3 * h,))
            layer = {"gates": make_dense(W[:2 * h], fx, b[:2 * h], U[:2 * h], what=what),
                     "candidate": make_dense(W[2 * h:], fx, b[2 * h:], U[2 * h:], what=what)}
        else:
            b = weight(f"layer{l}_bias", (4 * h,))
            layer = {"gates": make_dense(W, fx, b, U, what=what)}
        params.layers.append(layer)
    params.head = make_dense(weight("head_kernel", (h, k)).T, fp.STATE_FRAC_BITS, weight("head_bias", (k,)),
                             what="head")
    return params


def load_artifact(path) -> tuple[dict, dict]:
    """(model.json dict, weights.npz arrays) of an artifact directory, with one-line errors."""
    path = Path(path)
    if not path.is_dir():
        raise UnsupportedModel(f"{path}: not a directory")
    for name in ("model.json", "weights.npz"):
        if not (path / name).is_file():
            raise UnsupportedModel(f"{path}: no {name} (not an artifact directory?)")
    try:
        manifest = json.loads((path / "model.json").read_text())
    except json.JSONDecodeError as err:
        raise UnsupportedModel(f"{path / 'model.json'}: invalid JSON ({err})") from None
    try:
        with np.load(path / "weights.npz") as data:
            weights = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:   # not a zip, truncated, or object arrays
        raise UnsupportedModel(f"{path / 'weights.npz'} is not a readable weights file ({type(err).__name__}); "
                               "re-run python host/train.py to write it again") from None
    return manifest, weights


def quantize_artifact(path) -> KernelParams:
    manifest, weights = load_artifact(path)
    return quantize_model(manifest, weights)
