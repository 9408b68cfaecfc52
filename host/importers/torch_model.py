"""PyTorch models: TorchScript (`torch.jit.save`, .pt/.pth) or a `torch.export` program (.pt2), read with
PyTorch's own loaders, run by PyTorch for the float reference.

What is accepted: one `nn.GRU` or `nn.LSTM` (any `batch_first`, `num_layers` 1-3), one `nn.Linear` head, an
optional softmax, dropout, and input normalisation from buffers whose names hold "mean" and "std", as users write
it (`(x - self.mean) / self.std`). The structure is read from the module tree (TorchScript) or the program's
module stack (torch.export); the pipeline then checks that the kernel's step computes what PyTorch computes.

Mapping (docs/import.md): PyTorch's GRU gates (r, z, n) become Keras' (z, r, n) and its two bias vectors the
`reset_after` rows (PyTorch applies the reset gate after the recurrent matmul); LSTM gates (i, f, g, o) are Keras'
order, with b_ih + b_hh as the one bias.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tinyrnn.host.importers.imported import LINEAR, SOFTMAX, SUPPORTED, ImportedModel, LayoutRefused, refuse
from tinyrnn.quantize.errors import UserError

TORCHSCRIPT_SUFFIXES = (".pt", ".pth")
EXPORT_SUFFIXES = (".pt2",)
RECURRENT = ("GRU", "LSTM")
# Modules that hold no computation of their own, or none at inference.
PASSIVE = ("Sequential", "ModuleList", "ModuleDict", "Dropout", "Identity", "Flatten")
SOFTMAXES = ("Softmax",)


def require_torch():
    if importlib.util.find_spec("torch") is None:
        raise UserError("importing a PyTorch model needs torch, not installed here", "pip install 'tinyrnn[torch]'")
    import torch
    return torch


def load(path: Path) -> ImportedModel:
    torch = require_torch()
    try:
        if path.suffix.lower() in EXPORT_SUFFIXES:
            program = torch.export.load(str(path))
            return read_program(program, f"PyTorch {path.name}", torch)
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: PyTorch cannot load it ({' '.join(str(err).split())[:300]})",
                        "save the model with torch.jit.save(torch.jit.script(model), 'model.pt') or "
                        "torch.export.save(torch.export.export(model, (x,)), 'model.pt2')") from None
    return read_scripted(module, f"PyTorch {path.name}", torch)


# ---- the two file forms ---------------------------------------------------------------------------------
def read_scripted(module, source: str, torch) -> ImportedModel:
    """A TorchScript module: types from each submodule's original_name, tensors from its state."""
    module.eval()
    kinds = {name: getattr(sub, "original_name", type(sub).__name__) for name, sub in module.named_modules()}
    tensors = {name: t.detach().cpu().numpy() for name, t in module.state_dict().items()}
    settings = {name: {key: getattr(sub, key) for key in ("bidirectional", "proj_size", "batch_first", "bias")
                       if _has(sub, key)} for name, sub in module.named_modules() if kinds[name] in RECURRENT}
    return _assemble(source, kinds, tensors, settings, lambda x: module(x), torch)


def read_program(program, source: str, torch) -> ImportedModel:
    """A torch.export program: types from the graph's module stack, tensors from its state and constants."""
    kinds = {"": "root"}
    for node in program.graph.nodes:
        for path, kind in (node.meta.get("nn_module_stack") or {}).values():
            name = kind.__name__ if isinstance(kind, type) else str(kind).rsplit(".", 1)[-1].strip("'>")
            kinds[path] = name
    tensors = {name: t.detach().cpu().numpy() for name, t in program.state_dict.items()}
    tensors.update({name: t.detach().cpu().numpy() for name, t in program.constants.items()
                    if hasattr(t, "detach")})
    runner = program.module()
    return _assemble(source, kinds, tensors, {}, lambda x: runner(x), torch)


def _has(module, key: str) -> bool:
    try:
        getattr(module, key)
        return True
    except (AttributeError, RuntimeError):
        return False


# ---- the structure, whichever the form ------------------------------------------------------------------
def _assemble(source: str, kinds: dict, tensors: dict, settings: dict, forward, torch) -> ImportedModel:
    recurrent, linear, softmax = [], [], False
    for path, kind in kinds.items():
        where = f"module '{path}' ({kind})"
        if path == "" or kind in PASSIVE:
            continue
        if kind in RECURRENT:
            recurrent.append(path)
        elif kind == "Linear":
            linear.append(path)
        elif kind in SOFTMAXES:
            softmax = True
        elif kind in ("RNN", "Conv1d", "Conv2d", "MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer"):
            raise refuse(where, "this module", SUPPORTED)
        elif any(key.startswith(f"{path}.") for key in tensors):
            raise refuse(where, "this module", SUPPORTED)
    if len(recurrent) != 1:
        raise refuse(source, f"{len(recurrent)} nn.GRU/nn.LSTM modules" if recurrent else "no nn.GRU or nn.LSTM",
                     "one nn.GRU or nn.LSTM (num_layers for a stack), then one nn.Linear")
    if len(linear) != 1:
        raise refuse(source, f"{len(linear)} nn.Linear modules", "one nn.Linear head after the recurrent module")
    rnn, head = recurrent[0], linear[0]
    cell = kinds[rnn].lower()
    where = f"module '{rnn}' ({kinds[rnn]})"
    layer_tensors = {key[len(rnn) + 1:]: value for key, value in tensors.items() if key.startswith(f"{rnn}.")}
    check_recurrent(where, layer_tensors, settings.get(rnn, {}))
    weights = recurrent_weights(cell, layer_tensors)
    weights["head_kernel"] = np.ascontiguousarray(tensors[f"{head}.weight"].T, np.float32)
    head_bias = tensors.get(f"{head}.bias")
    weights["head_bias"] = np.asarray(head_bias if head_bias is not None
                                      else np.zeros(weights["head_kernel"].shape[1]), np.float32)
    units = weights["layer0_recurrent"].shape[0]
    input_dim = weights["layer0_kernel"].shape[0]
    return ImportedModel(
        source=source, cell=cell, units=int(units), layers=sum(1 for k in weights if k.endswith("_recurrent")),
        reset_after=cell == "gru", input_dim=int(input_dim), output_dim=int(weights["head_kernel"].shape[1]),
        head=SOFTMAX if softmax else LINEAR, weights=weights, norm=norm_buffers(tensors, input_dim),
        step_outputs=per_step_runner(forward, torch, batch_first=True), notes=[f"{kinds[rnn]} read from {source}"],
        other_layouts=[per_step_runner(forward, torch, batch_first=False)])


def check_recurrent(where: str, tensors: dict, settings: dict) -> None:
    if settings.get("bidirectional") or any(key.endswith("_reverse") for key in tensors):
        raise refuse(where, "a bidirectional layer (a stream cannot look ahead)", SUPPORTED)
    if settings.get("proj_size") or any(key.startswith("weight_hr") for key in tensors):
        raise refuse(where, "an LSTM projection (proj_size)", SUPPORTED)


def _keras_gate_order(a: np.ndarray, cell: str) -> np.ndarray:
    """PyTorch's stacked gate rows in Keras' order: GRU (r, z, n) -> (z, r, n); LSTM (i, f, g, o) unchanged."""
    if cell == "lstm":
        return a
    r, z, n = np.split(a, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def recurrent_weights(cell: str, tensors: dict) -> dict:
    weights = {}
    layers = sorted(int(key.rsplit("_l", 1)[1]) for key in tensors if key.startswith("weight_ih_l"))
    for l in layers:
        w_ih, w_hh = tensors[f"weight_ih_l{l}"], tensors[f"weight_hh_l{l}"]
        gates = w_ih.shape[0]
        b_ih = tensors.get(f"bias_ih_l{l}", np.zeros(gates))
        b_hh = tensors.get(f"bias_hh_l{l}", np.zeros(gates))
        weights[f"layer{l}_kernel"] = np.ascontiguousarray(_keras_gate_order(w_ih, cell).T, np.float32)
        weights[f"layer{l}_recurrent"] = np.ascontiguousarray(_keras_gate_order(w_hh, cell).T, np.float32)
        if cell == "gru":       # two bias rows: the recurrent one sits inside r * (U_n h + b_hn)
            bias = np.stack([_keras_gate_order(b_ih, cell), _keras_gate_order(b_hh, cell)])
        else:
            bias = b_ih + b_hh
        weights[f"layer{l}_bias"] = np.asarray(bias, np.float32)
    return weights


def norm_buffers(tensors: dict, input_dim: int) -> tuple | None:
    """(mean, std) from the buffers users write `(x - mean) / std` with; None when there are none."""
    def find(word):
        found = [v for k, v in tensors.items() if word in k.rsplit(".", 1)[-1].lower() and np.size(v) in (1, input_dim)]
        return np.broadcast_to(np.asarray(found[0], np.float32).reshape(-1), (input_dim,)).copy() if found else None
    mean, std = find("mean"), find("std")
    if mean is None and std is None:
        return None
    return (mean if mean is not None else np.zeros(input_dim, np.float32),
            std if std is not None else np.ones(input_dim, np.float32))


def per_step_runner(forward, torch, batch_first: bool):
    """PyTorch's own head output after every step, on raw padded inputs (n, T, d) -> (n, T, k).

    A module that returns every step's output is run once; one that returns the last step's only is run on each
    prefix (it is causal: the output after step t depends on steps up to t alone). `batch_first`: the module takes
    (n, T, d), else (T, n, d); the pipeline's check against the kernel's step decides which reading is right."""
    def call(x: np.ndarray, batch_first: bool) -> np.ndarray:
        with torch.no_grad():
            tensor = torch.from_numpy(np.ascontiguousarray(x if batch_first else x.transpose(1, 0, 2)))
            out = forward(tensor)
        out = out[0] if isinstance(out, (tuple, list)) else out
        out = out.detach().cpu().numpy()
        return out if batch_first or out.ndim == 2 else out.transpose(1, 0, 2)

    def run_layout(raw: np.ndarray, batch_first: bool) -> np.ndarray:
        n, T, _ = raw.shape
        whole = call(raw, batch_first)
        if whole.ndim == 3 and whole.shape[:2] == (n, T):
            return whole
        steps = [call(raw[:, :t + 1], batch_first) for t in range(T)]
        return np.stack(steps, axis=1)

    def run(raw: np.ndarray) -> np.ndarray:
        try:
            return run_layout(raw.astype(np.float32), batch_first).astype(np.float32)
        except RuntimeError as err:     # e.g. the other layout's shapes: the next reading is tried
            raise LayoutRefused(" ".join(str(err).split())[:200]) from None

    return run
