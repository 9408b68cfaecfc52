"""The bit-exact Python twin of the C kernels (firmware/kernels/tr_gru.c, tr_lstm.c, tr_head.c, tr_model.c).

Every function below mirrors the C function of the same name, step for step (docs/quantization.md).
All arithmetic is integer numpy; every function also works on a batch (leading axes), which is how the
export evaluates a whole test split at once. The C computes the same integers one sequence at a time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import Artifact, kernel_files
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel
from tinyrnn.quantize.twin.quantizer import quantize_artifact


def pad4(n: int) -> int:
    """Vectors are stored padded to a multiple of 4 entries (the DSP matvec reads 4 columns at a time)."""
    return (n + 3) & ~3


def state_words(params: KernelParams) -> int:
    """int32 words of the caller's state buffer: per layer h (int16, padded) [+ c (int32) for LSTM]."""
    per_layer = pad4(params.units) // 2 + (params.units if params.cell_kind == "lstm" else 0)
    return per_layer * params.num_layers


def scratch_words(params: KernelParams) -> int:
    """int32 words of the caller's scratch buffer (see tr_model.c for the layout)."""
    h = params.units
    gate_rows = {"gru_reset_after": 4 * h, "gru_reset_before": 3 * h, "lstm": 4 * h}[params.cell_kind]
    reset_h = pad4(h) // 2 if params.cell_kind == "gru_reset_before" else 0
    return pad4(params.input_dim) // 2 + max(gate_rows + reset_h, params.output_dim)


# ---- cells (mirror tr_gru.c / tr_lstm.c) -----------------------------------------------------------

def tr_gru_step(layer: dict, reset_after: bool, x, h):
    """One GRU step: x (..., fan_in) in Q(fx), h (..., units) Q15 -> new h Q15."""
    units = h.shape[-1]
    gates = layer["gates"].product(x, h)                   # z, r pre-activations, Q14
    z = fp.sigmoid_q15(gates[..., :units])
    r = fp.sigmoid_q15(gates[..., units:])
    if reset_after:
        a = layer["candidate"].product(x)                  # W_n x + b_in, Q14
        c = layer["candidate_recurrent"].product(h)        # U_n h + b_hn, Q14
        n = fp.tanh_q15(a + ((r * c + (1 << 14)) >> 15))   # r Q15 x c Q14 -> Q14
    else:
        rh = fp.round_shift(r * h, 15)                     # r * h, Q15
        n = fp.tanh_q15(layer["candidate"].product(x, rh))
    return fp.sat16(n + fp.round_shift(z * (h - n), 15))   # z h + (1 - z) n


def tr_lstm_step(layer: dict, x, h, c):
    """One LSTM step: x in Q(fx), h Q15, c Q14 -> (new h Q15, new c Q14)."""
    units = h.shape[-1]
    pre = layer["gates"].product(x, h)
    i = fp.sigmoid_q15(pre[..., 0 * units:1 * units])
    f = fp.sigmoid_q15(pre[..., 1 * units:2 * units])
    g = fp.tanh_q15(pre[..., 2 * units:3 * units])
    o = fp.sigmoid_q15(pre[..., 3 * units:4 * units])
    c_new = fp.round_shift(f * c, 15) + fp.round_shift(i * g, 16)   # Q15 x Q14 -> Q14, Q15 x Q15 -> Q14
    h_new = fp.round_shift(o * fp.tanh_q15(c_new), 15)
    return h_new, c_new


def tr_head(params: KernelParams, h):
    """Head over the last layer's h: softmax Q15 probabilities or linear Q14 outputs (int32)."""
    logits = params.head.product(h)
    return fp.softmax_q15(logits) if params.head_kind == "softmax" else logits


class TwinModel:
    """The kernel in integer numpy. `run` gives exactly the int32 outputs `tinyrnn_step` writes."""

    def __init__(self, params: KernelParams):
        self.params = params

    @classmethod
    def from_artifact_dir(cls, path) -> "TwinModel":
        """The kernel of an artifact directory: kernel.npz when quantize has run, else quantized from weights."""
        path = Path(path)
        if kernel_files(path).present:
            params = KernelParams.load(path)
            recorded = Artifact.open(path).model_hash if Artifact.exists(path) else None
            if recorded not in (None, params.model_hash):
                raise UnsupportedModel(f"{path}: model.json model_hash {recorded} does not match "
                                       f"kernel.npz ({params.model_hash}); re-run tinyrnn export")
        else:
            params = quantize_artifact(path)
        return cls(params)

    @property
    def model_hash(self) -> str:
        return self.params.model_hash

    # ---- input / output conversion (host side, float allowed) ----------------------------------
    def quantize_input(self, x_raw) -> np.ndarray:
        """Raw inputs (..., d) -> int16 Q(xf) of the normalised input: sat16(floor((x-mean)/std * 2^xf + 0.5))."""
        p = self.params
        x = (np.asarray(x_raw, dtype=np.float64) - p.norm_mean.astype(np.float64)) / p.norm_std.astype(np.float64)
        return fp.sat16(np.floor(x * 2.0 ** p.input_frac_bits + 0.5)).astype(np.int16)

    def dequantize_output(self, y_q) -> np.ndarray:
        """int32 outputs -> probabilities (softmax head) or normalised regression values (linear head)."""
        bits = fp.PROB_FRAC_BITS if self.params.head_kind == "softmax" else fp.PREACT_FRAC_BITS
        return np.asarray(y_q, dtype=np.float64) / 2.0 ** bits

    # ---- stepping -------------------------------------------------------------------------------
    def initial_state(self, batch_shape=()) -> list:
        """Zero state: one (h,) tuple per layer, (h, c) for LSTM; int64 arrays (batch_shape + (units,))."""
        zeros = np.zeros(tuple(batch_shape) + (self.params.units,), dtype=np.int64)
        return [(zeros, zeros) if self.params.cell_kind == "lstm" else (zeros,) for _ in self.params.layers]

    def step(self, state: list, x_q_t):
        """One timestep (mirror of tinyrnn_step): returns (new state, y int64 (..., k))."""
        p = self.params
        layer_input = np.asarray(x_q_t, dtype=np.int64)
        new_state = []
        for layer, layer_state in zip(p.layers, state):
            if p.cell_kind == "lstm":
                h, c = tr_lstm_step(layer, layer_input, *layer_state)
                new_state.append((h, c))
            else:
                h = tr_gru_step(layer, p.cell_kind == "gru_reset_after", layer_input, layer_state[0])
                new_state.append((h,))
            layer_input = h
        return new_state, tr_head(p, layer_input)

    def run(self, x_q) -> np.ndarray:
        """Fresh state, x_q int16 (T, d) (or (n, T, d)) -> int32 outputs after every step, (T, k) (or (n, T, k))."""
        x_q = np.asarray(x_q)
        batch = x_q.shape[:-2]
        steps = x_q.shape[-2]
        state = self.initial_state(batch)
        out = np.zeros(batch + (steps, self.params.output_dim), dtype=np.int32)
        for t in range(steps):
            state, y = self.step(state, x_q[..., t, :])
            out[..., t, :] = y
        return out

    def pack_state(self, state: list) -> np.ndarray:
        """A single sequence's state as the int32 words of the C state buffer (tr_model.c layout)."""
        words = []
        for layer_state in state:
            h = np.zeros(pad4(self.params.units), dtype=np.int16)
            h[:self.params.units] = layer_state[0]
            words.append(h.view(np.int32) if h.dtype.byteorder in "=<" else h.astype("<i2").view("<i4"))
            if self.params.cell_kind == "lstm":
                words.append(np.asarray(layer_state[1], dtype=np.int32))
        return np.concatenate(words)
