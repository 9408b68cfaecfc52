"""Int8-grid fine-tuning: a few more epochs that leave every weight matrix on the kernel's int8 grid.

Why: on a microcontroller the weights are int8 (per output unit, symmetric: docs/quantization.md). Rounding a
trained model's weights to that grid moves its outputs by up to a few hundredths, far more than the
fixed-point arithmetic does. Fine-tuning with the rounding in the loop (quantization-aware training with a
straight-through estimator) lets the other weights and the biases make up for it, and the float model that
is shipped is the one whose weights *are* the int8 values: host, int8 TFLite and the board then all run
the same weights, and what remains between the float model and the board is the arithmetic alone.

How: the callback keeps a float "shadow" copy of each matrix; the model holds the shadow rounded to the grid.
After every batch the optimizer's update of those rounded weights is added to the shadow (the straight-through
estimator) and the model gets the newly rounded shadow, so at the end it keeps weights on the grid.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.quantize.twin.quantizer import snap_to_int8_grid


def grid_variables(model) -> list:
    """The weight matrices the kernel stores as int8: each recurrent cell's kernel and recurrent kernel,
    and each Dense layer's kernel. Biases stay float (the kernel keeps them at 2^-46 resolution)."""
    variables = []
    for layer in model.layers:
        cell = getattr(layer, "cell", None)
        if cell is not None and hasattr(cell, "recurrent_kernel"):
            variables += [cell.kernel, cell.recurrent_kernel]
        elif layer.__class__.__name__ == "Dense":
            variables.append(layer.kernel)
    return variables


def make_grid_callback(keras, variables):
    """A Keras callback that trains `variables` with their int8 rounding in the forward pass."""

    class Int8GridTraining(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.shadow = [np.array(v.numpy(), dtype=np.float64) for v in variables]
            self._round_into_model()

        def on_train_batch_end(self, batch, logs=None):
            for shadow, variable, rounded in zip(self.shadow, variables, self.rounded):
                shadow += np.asarray(variable.numpy(), dtype=np.float64) - rounded   # the optimizer's step
            # Between batches the model always holds rounded weights, so the next batch and the validation
            # at the end of an epoch (the report's curves) see the model that would be shipped.
            self._round_into_model()

        def _round_into_model(self):
            self.rounded = [snap_to_int8_grid(s).astype(np.float32) for s in self.shadow]
            for variable, value in zip(variables, self.rounded):
                variable.assign(value)

    return Int8GridTraining()
