"""Keras `.keras` and legacy `.h5` models (Sequential or functional chains) read with Keras' own loader.

The layers must form one chain: [InputLayer] [Normalization|Rescaling ...] [Masking] (GRU|LSTM [Dropout])+
Dense [Activation|Softmax], with Dropout anywhere (it does nothing at inference). Keras' gate order and GRU
biases are the kernel's own (weights.npz is Keras' layout), so the weights are taken as they are.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyrnn.host.importers.imported import LINEAR, SOFTMAX, SUPPORTED, ImportedModel, refuse
from tinyrnn.quantize.errors import UserError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
IDENTITY_AT_INFERENCE = ("Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout")
RECURRENT = ("GRU", "LSTM")
BATCH = 256


def load(path: Path) -> ImportedModel:
    from tinyrnn.host.training.model import import_keras, native_stderr_captured

    keras = import_keras()
    try:
        with native_stderr_captured():
            model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise UserError(f"{path}: Keras cannot load it ({' '.join(str(err).split())[:300]})",
                        "save the model with model.save('model.keras') (custom layers are not supported)") from None
    return read_model(model, f"Keras {path.name}", keras)


def read_model(model, source: str, keras) -> ImportedModel:
    """An ImportedModel from a loaded Keras model; refuses in one line what the kernel cannot run."""
    layers = chain_of(model)
    reader = _ChainReader(source)
    for layer in layers:
        reader.add(layer)
    imported = reader.finish(model, layers, keras)
    imported.framework_model = model
    return imported


def chain_of(model) -> list:
    """The model's layers in order, checked to be one chain (one input, one output, no branches)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"model {model.name}: {len(model.inputs)} inputs and {len(model.outputs)} outputs",
                        "import a model with one input (the sensor frames) and one output")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ != "Sequential":
        expected = model.inputs[0]
        for layer in layers:
            nodes = layer._inbound_nodes
            # A masked tensor arrives with its mask as a second input tensor: the first is the data.
            if len(nodes) != 1 or not nodes[0].input_tensors or nodes[0].input_tensors[0] is not expected:
                raise refuse(f"layer '{layer.name}'", "a model that is not one chain of layers (a branch, merge or "
                             "shared layer)", SUPPORTED)
            expected = layer.output
    return layers


class _ChainReader:
    """Walks the chain once, collecting normalisation, recurrent layers and the head."""

    def __init__(self, source: str):
        self.source = source
        self.scale: np.ndarray | float = 1.0      # normalised x = x * scale + offset
        self.offset: np.ndarray | float = 0.0
        self.has_norm = False
        self.recurrent: list = []
        self.head = None
        self.head_activation = None
        self.notes: list[str] = []

    def add(self, layer) -> None:
        kind, where = type(layer).__name__, f"layer '{layer.name}' ({type(layer).__name__})"
        if kind in IDENTITY_AT_INFERENCE:
            return
        if kind in ("Normalization", "Rescaling", "Masking") and (self.recurrent or self.head is not None):
            raise refuse(where, "preprocessing after the first recurrent layer", SUPPORTED)
        if kind == "Normalization":
            self._normalization(layer, where)
        elif kind == "Rescaling":
            self._rescaling(layer, where)
        elif kind == "Masking":
            self.notes.append(f"Masking(mask_value={layer.mask_value:g}): the board stops at each sequence's "
                              "length, as Keras skips the padded steps")
        elif kind in RECURRENT:
            if self.head is not None:
                raise refuse(where, "a recurrent layer after the dense head", SUPPORTED)
            check_recurrent(layer, where)
            self.recurrent.append(layer)
        elif kind == "Bidirectional":
            raise refuse(where, "a bidirectional layer (a stream cannot look ahead)", SUPPORTED)
        elif kind == "Dense":
            self._dense(layer, where)
        elif kind in ("Activation", "Softmax") and self.head is not None and self.head_activation is None:
            self.head_activation = _activation_name(layer)
            if self.head_activation not in (SOFTMAX, LINEAR) or getattr(layer, "axis", -1) not in (-1, [-1]):
                raise refuse(where, f"activation '{self.head_activation}' after the head", "softmax or linear")
        else:
            raise refuse(where, "this layer", SUPPORTED)

    def _normalization(self, layer, where: str) -> None:
        if getattr(layer, "invert", False) or tuple(np.atleast_1d(layer.axis)) != (-1,):
            raise refuse(where, "Normalization with invert=True or an axis other than the last", SUPPORTED)
        mean = np.asarray(layer.mean, np.float64).reshape(-1)
        std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1)), 1e-7)  # Keras' epsilon
        self.scale, self.offset = self.scale / std, (self.offset - mean) / std
        self.has_norm = True

    def _rescaling(self, layer, where: str) -> None:
        scale = np.asarray(layer.scale, np.float64).reshape(-1)
        if not np.all(scale > 0):
            raise refuse(where, "Rescaling with a zero or negative scale", "a positive scale")
        offset = np.asarray(layer.offset, np.float64).reshape(-1)
        self.scale, self.offset = self.scale * scale, self.offset * scale + offset
        self.has_norm = True

    def _dense(self, layer, where: str) -> None:
        if not self.recurrent:
            raise refuse(where, "a dense layer before the recurrent layers", SUPPORTED)
        if self.head is not None:
            raise refuse(where, "a second dense layer (the kernel has one dense head)", SUPPORTED)
        activation = _activation_name(layer)
        if activation not in (SOFTMAX, LINEAR):
            raise refuse(where, f"a dense head with activation '{activation}'", "softmax or linear")
        self.head, self.head_activation = layer, (SOFTMAX if activation == SOFTMAX else None)

    def finish(self, model, layers: list, keras) -> ImportedModel:
        if not self.recurrent:
            raise refuse(f"model {model.name}", "a model without a GRU or LSTM layer", SUPPORTED)
        if self.head is None:
            raise refuse(f"model {model.name}", "a model without a dense head after its recurrent layers",
                         SUPPORTED)
        cells = {type(layer).__name__ for layer in self.recurrent}
        resets = {bool(layer.reset_after) for layer in self.recurrent if type(layer).__name__ == "GRU"}
        if len(cells) > 1 or len(resets) > 1:
            raise refuse(f"model {model.name}", "a stack mixing GRU and LSTM layers or GRU reset variants",
                         SUPPORTED)
        first = self.recurrent[0]
        input_dim = int(first.get_weights()[0].shape[0])
        weights = recurrent_weights(self.recurrent)
        head_kernel, *head_bias = self.head.get_weights()
        weights["head_kernel"] = np.asarray(head_kernel, np.float32)
        weights["head_bias"] = np.asarray(head_bias[0] if head_bias else np.zeros(head_kernel.shape[1]), np.float32)
        norm = None
        if self.has_norm:
            scale = np.broadcast_to(self.scale, (input_dim,))
            offset = np.broadcast_to(self.offset, (input_dim,))
            norm = ((-offset / scale).astype(np.float32), (1.0 / scale).astype(np.float32))
        if not self.recurrent[-1].return_sequences:
            self.notes.append("the last recurrent layer returns its final state only; the board gives the head's "
                              "output after every step, and the one after the last step is the model's")
        return ImportedModel(
            source=self.source, cell=first.__class__.__name__.lower(), units=int(first.units),
            layers=len(self.recurrent), reset_after=bool(getattr(first, "reset_after", False)),
            input_dim=input_dim, output_dim=int(head_kernel.shape[1]),
            head=SOFTMAX if self.head_activation == SOFTMAX else LINEAR, weights=weights, norm=norm,
            step_outputs=per_step_runner(layers, input_dim, keras), notes=self.notes)


def _activation_name(layer) -> str:
    if type(layer).__name__ == "Softmax":
        return SOFTMAX
    name = layer.get_config().get("activation")
    return LINEAR if name in (None, "linear") else str(name)


def check_recurrent(layer, where: str) -> None:
    """What the kernel's GRU/LSTM step computes: tanh and sigmoid, forwards, no state handed in or out."""
    config = layer.get_config()
    if config.get("activation") != "tanh" or config.get("recurrent_activation") != "sigmoid":
        raise refuse(where, f"activation '{config.get('activation')}' / recurrent_activation "
                     f"'{config.get('recurrent_activation')}'", "tanh and sigmoid (the defaults)")
    if config.get("go_backwards"):
        raise refuse(where, "go_backwards=True (a stream cannot look ahead)", SUPPORTED)
    if config.get("return_state"):
        raise refuse(where, "return_state=True", SUPPORTED)


def recurrent_weights(layers: list) -> dict:
    """weights.npz's recurrent arrays: Keras' own layout, with zero biases where use_bias=False."""
    weights = {}
    for l, layer in enumerate(layers):
        kernel, recurrent, *bias = layer.get_weights()
        if not bias:
            gates = kernel.shape[1]
            bias = [np.zeros((2, gates) if getattr(layer, "reset_after", False) else (gates,))]
        weights[f"layer{l}_kernel"] = np.asarray(kernel, np.float32)
        weights[f"layer{l}_recurrent"] = np.asarray(recurrent, np.float32)
        weights[f"layer{l}_bias"] = np.asarray(bias[0], np.float32)
    return weights


def per_step_runner(layers: list, input_dim: int, keras):
    """The user's model with every recurrent layer returning its whole sequence, so the head runs after every
    step: Keras itself computes the float reference. Returns x (n, T, d) raw -> (n, T, k)."""
    x = inputs = keras.Input(shape=(None, input_dim))
    for layer in layers:
        if type(layer).__name__ in RECURRENT and not layer.return_sequences:
            every_step = type(layer).from_config({**layer.get_config(), "return_sequences": True})
            x = every_step(x)
            every_step.set_weights(layer.get_weights())
        else:
            x = layer(x)
    stepped = keras.Model(inputs, x)

    def run(raw: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        parts = [np.asarray(stepped(raw[i:i + BATCH].astype(np.float32), training=False))
                 for i in range(0, len(raw), BATCH)]
        return np.concatenate(parts).astype(np.float32)

    return run


def fine_tune_on_int8_grid(imported: ImportedModel, x_train: np.ndarray, y_train: np.ndarray, classify: bool,
                           epochs: int, lr: float, quiet: bool) -> ImportedModel:
    """More epochs of the user's own Keras model with its weight matrices held on the kernel's int8 grid
    (host/training/qat.py's straight-through callback), on raw training inputs and the user's own targets.
    Returns the model read again: its weights and per-step runner are the fine-tuned ones."""
    from tinyrnn.host.training import qat
    from tinyrnn.host.training.model import import_keras, native_stderr_captured

    keras = import_keras()
    model = imported.framework_model
    if classify:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=imported.head != SOFTMAX)
    else:
        loss = "mse"
    model.compile(keras.optimizers.Adam(lr), loss)
    with native_stderr_captured():
        model.fit(x_train, y_train, epochs=epochs, batch_size=16, shuffle=True, verbose=0 if quiet else 2,
                  callbacks=[qat.make_grid_callback(keras, qat.grid_variables(model))])
    return read_model(model, imported.source, keras)
