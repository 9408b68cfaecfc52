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
import warnings
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
        with warnings.catch_warnings():     # torch.jit.load's deprecation notice: the user's format, not news
            warnings.simplefilter("ignore")
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
    imported = _assemble(source, kinds, tensors, settings, lambda x: module(x), torch)
    imported.framework_model = module      # for int8-grid fine-tuning (host/importers/torch_grid.py)
    return imported


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
    imported = _assemble(source, kinds, tensors, {}, None, torch)
    # torch.export fixes a recurrent program's sequence length, so PyTorch's own GRU/LSTM and Linear, loaded with
    # the program's tensors, give every step's output; the program itself checks that reading at its shape.
    imported.step_outputs = eager_runner(imported, kinds, tensors, torch, program_check(program, torch))
    imported.other_layouts = []
    imported.framework_model = program     # fine-tuning refuses it in one line (torch_grid.py)
    imported.notes.append("torch.export fixes the sequence length: every step's output comes from PyTorch's own "
                          f"{imported.cell.upper()} and Linear with the program's weights, checked against the "
                          "program at its exported shape")
    return imported


def program_check(program, torch):
    """A function (raw x, eager final outputs at the program's length) -> max difference from the program, on the
    test sequences at least that long (None when none is)."""
    placeholder = next(node for node in program.graph.nodes if node.op == "placeholder"
                       and node.name in program.graph_signature.user_inputs)
    batch, steps = (dim if isinstance(dim, int) else None for dim in placeholder.meta["val"].shape[:2])
    runner = program.module()

    def check(raw: np.ndarray, eager_steps: np.ndarray, lengths: np.ndarray) -> float | None:
        T = steps or raw.shape[1]
        picks = np.flatnonzero(lengths >= T)
        if T > raw.shape[1] or not len(picks):
            return None
        size = batch or len(picks)
        picks = picks[: len(picks) - len(picks) % size]
        worst = 0.0
        for i in range(0, len(picks), size):
            chunk = picks[i:i + size]
            with torch.no_grad():
                out = runner(torch.from_numpy(np.ascontiguousarray(raw[chunk, :T], np.float32)))
            out = (out[0] if isinstance(out, (tuple, list)) else out).numpy()
            out = out[:, -1] if out.ndim == 3 else out
            worst = max(worst, float(np.abs(out - eager_steps[chunk, T - 1]).max()))
        return worst

    return check


def eager_runner(imported: ImportedModel, kinds: dict, tensors: dict, torch, check):
    """PyTorch's own cell, batch-first, with the program's weights, normalisation and head: x (n, T, d) raw ->
    (n, T, k); refuses the import when the program disagrees."""
    rnn_path = next(path for path, kind in kinds.items() if kind in RECURRENT)
    head_path = next(path for path, kind in kinds.items() if kind == "Linear")
    cell = torch.nn.GRU if imported.cell == "gru" else torch.nn.LSTM
    rnn = cell(imported.input_dim, imported.units, num_layers=imported.layers, batch_first=True,
               bias=f"{rnn_path}.bias_ih_l0" in tensors)
    rnn.load_state_dict({k[len(rnn_path) + 1:]: torch.from_numpy(v) for k, v in tensors.items()
                         if k.startswith(f"{rnn_path}.")})
    head = torch.nn.Linear(imported.units, imported.output_dim, bias=f"{head_path}.bias" in tensors)
    head.load_state_dict({k[len(head_path) + 1:]: torch.from_numpy(v) for k, v in tensors.items()
                          if k.startswith(f"{head_path}.")})
    d = imported.input_dim
    mean, std = imported.norm if imported.norm is not None else (np.zeros(d), np.ones(d))

    def run(raw: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(((raw - mean) / std).astype(np.float32))
            y = head(rnn(x)[0])
            if imported.head == SOFTMAX:
                y = torch.softmax(y, dim=-1)
        steps = y.numpy().astype(np.float32)
        drift = check(raw, steps, lengths if lengths is not None else np.full(len(raw), raw.shape[1]))
        if drift is None or drift > 1e-4:
            what = "no test sequence is as long as its exported length" if drift is None else \
                f"its outputs differ by {drift:.3g} from PyTorch's {imported.cell.upper()} with its weights"
            raise UserError(f"{imported.source}: the program cannot be checked or read as a GRU/LSTM + Linear ({what})",
                            "export with the data's sequence length, or save the model with TorchScript instead")
        return steps

    return run


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
        if whole.shape[0] != n:     # the module read the other axis as its batch: not this layout
            raise LayoutRefused(f"an output of shape {tuple(whole.shape)} for {n} sequences")
        steps = [call(raw[:, :t + 1], batch_first) for t in range(T)]
        return np.stack(steps, axis=1)

    def run(raw: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        try:
            return run_layout(raw.astype(np.float32), batch_first).astype(np.float32)
        except RuntimeError as err:     # e.g. the other layout's shapes: the next reading is tried
            raise LayoutRefused(" ".join(str(err).split())[:200]) from None

    run.batch_first = batch_first       # type: ignore[attr-defined]  (the reading fine-tuning trains in)
    return run
