"""Int8-grid fine-tuning of a PyTorch (TorchScript) model in PyTorch: a few more epochs of the user's own module
with its weight matrices held on the kernel's int8 grid, as host/training/qat.py does for Keras.

The grid is the kernel's (docs/quantization.md): per output row, symmetric int8. A PyTorch weight `(out, in)` has
one row per output unit, so each row's rounding is the kernel's whatever the gate order. The straight-through
estimator: a float shadow of each matrix is kept; before every batch the module holds the shadow rounded to the
grid (the fake-quantized weight), the loss and its gradient are taken there, and the optimizer's step is added to
the shadow. Biases stay float (the kernel keeps them at 2^-46 resolution).
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from tinyrnn.host.importers.imported import SOFTMAX, ImportedModel
from tinyrnn.host.training.pipeline import progress_options
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.twin.quantizer import snap_to_int8_grid

BATCH = 16


def grid_matrices(module) -> list:
    """The parameters the kernel stores as int8: the recurrent module's input and recurrent matrices and the
    head's weight, i.e. every 2-D parameter (the importer refused any other module with weights)."""
    return [p for _, p in module.named_parameters() if p.dim() == 2]


def on_grid(matrix: np.ndarray) -> np.ndarray:
    """A PyTorch `(out, in)` matrix rounded per row to the kernel's int8 values."""
    return snap_to_int8_grid(np.asarray(matrix, np.float64).T).T


def fine_tune_on_int8_grid(imported: ImportedModel, sequences: list, targets: np.ndarray, classify: bool,
                           batch_first: bool, epochs: int, lr: float, seed: int, quiet: bool) -> ImportedModel:
    """`epochs` more epochs of the TorchScript module on raw training `sequences` (a list of (T_i, d)) and the
    user's own `targets`; returns the model read again (weights and per-step runners are the fine-tuned ones)."""
    from tinyrnn.host.importers.torch_model import read_scripted, require_torch

    torch = require_torch()
    module = require_trainable(imported)
    torch.manual_seed(seed)
    matrices = grid_matrices(module)
    shadows = [p.detach().to(torch.float64).clone() for p in matrices]
    optimiser = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    batches = equal_length_batches(sequences, np.random.default_rng(seed))
    y = torch.from_numpy(np.asarray(targets, np.int64 if classify else np.float32))
    loss_of = make_loss(torch, module, imported, sequences, classify, batch_first)
    for _ in tqdm(range(epochs), desc="int8-grid fine-tuning (PyTorch)", unit="epoch", **progress_options(quiet)):
        module.train()
        for picks in batches():
            rounded = round_into(torch, matrices, shadows)
            optimiser.zero_grad()
            loss = loss_of(np.stack([sequences[i] for i in picks]), y[picks])
            loss.backward()
            optimiser.step()
            with torch.no_grad():       # the straight-through step: what the optimizer did to the rounded weight
                for shadow, p, r in zip(shadows, matrices, rounded):
                    shadow += p.detach().to(torch.float64) - r
    round_into(torch, matrices, shadows)        # the module keeps weights on the grid
    module.eval()
    tuned = read_scripted(module, imported.source, torch)
    tuned.notes.append("int8-grid fine-tuned in PyTorch (straight-through estimator on per-row int8 weights)")
    return tuned


def require_trainable(imported: ImportedModel):
    """The TorchScript module to train; a torch.export program (fixed to one sequence length) is refused."""
    from tinyrnn.host.importers.torch_model import require_torch

    if not isinstance(imported.framework_model, require_torch().jit.ScriptModule):
        raise UserError(f"{imported.source}: --fine-tune-epochs does not train a torch.export program",
                        "save the model with torch.jit.save(torch.jit.script(model), 'model.pt') to fine-tune it")
    return imported.framework_model


def round_into(torch, matrices: list, shadows: list) -> list:
    """Each matrix := its shadow on the int8 grid; returns the rounded values (float64)."""
    rounded = [torch.from_numpy(on_grid(s.numpy())) for s in shadows]
    with torch.no_grad():
        for p, r in zip(matrices, rounded):
            p.copy_(r.to(p.dtype))
    return rounded


def equal_length_batches(sequences: list, rng):
    """A function giving one epoch's shuffled batches of indices, each of sequences of one length (the module
    sees whole sequences, no padding: a PyTorch module has no mask)."""
    by_length: dict = {}
    for i, s in enumerate(sequences):
        by_length.setdefault(len(s), []).append(i)

    def epoch():
        batches = []
        for group in by_length.values():
            order = rng.permutation(group)
            batches += [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
        return [batches[i] for i in rng.permutation(len(batches))]

    return epoch


def make_loss(torch, module, imported: ImportedModel, sequences: list, classify: bool, batch_first: bool):
    """The loss on the module's final output: cross-entropy on logits, or on log-probabilities when the model
    outputs probabilities (a softmax module or one in `forward`), mean squared error for regression."""
    def final_output(x: np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(x if batch_first else x.transpose(1, 0, 2), np.float32))
        out = module(tensor)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if out.dim() == 3:          # every step's output: the last one
            out = out[:, -1] if batch_first else out[-1]
        return out

    if not classify:
        return lambda x, y: torch.nn.functional.mse_loss(final_output(x), y.reshape(len(y), -1))
    probabilities = imported.head == SOFTMAX
    if not probabilities:
        module.eval()
        with torch.no_grad():
            sample = final_output(np.stack(sequences[:1])).numpy()
        probabilities = bool(sample.min() >= 0 and np.allclose(sample.sum(axis=-1), 1.0, atol=1e-4))
    if probabilities:
        return lambda x, y: torch.nn.functional.nll_loss(torch.log(final_output(x) + 1e-9), y)
    return lambda x, y: torch.nn.functional.cross_entropy(final_output(x), y)
