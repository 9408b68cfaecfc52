"""Writes keras_lstm.onnx: a Keras 3 LSTM x2 with a Rescaling input, converted by tf2onnx 1.17 (its
`from_function` route: `from_keras` fails on Keras 3 models). tf2onnx is not a tinyrnn dependency; this was run
once in a throwaway venv beside tensorflow-cpu 2.21 / keras 3.15 (docs/import.md):

    python -m venv /tmp/t2o && /tmp/t2o/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0
    /tmp/t2o/bin/python tests/data/tf2onnx/make_keras_lstm.py

tests/test_import.py makes the same data with `keras_lstm_data()` and imports the file.
"""
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import tf2onnx


def keras_lstm_data():
    """48 sequences of 16 steps, 3 channels; class 1 when channel 0's mean is positive."""
    x = np.random.default_rng(0).normal(size=(48, 16, 3)).astype("float32")
    return x, (x[:, :, 0].mean(axis=1) > 0).astype(np.int64)


if __name__ == "__main__":
    x, y = keras_lstm_data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None, 3), name="x"), keras.layers.Rescaling(0.5, offset=0.1),
                              keras.layers.LSTM(8, return_sequences=True), keras.layers.LSTM(8),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    spec = (tf.TensorSpec((None, None, 3), tf.float32, name="x"),)
    function = tf.function(lambda t: model(t), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, opset=17,
                                  output_path=str(Path(__file__).with_name("keras_lstm.onnx")))
