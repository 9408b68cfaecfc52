"""Full-integer int8 TFLite conversion of the step model, and stepping sequences through the int8 interpreter.

Only the explicit step model (FULLY_CONNECTED, LOGISTIC, TANH, MUL, ADD, SUB, SOFTMAX) is converted here:
Keras' own GRU/LSTM layers either refuse to convert or segfault during int8 calibration.
"""

from __future__ import annotations

import tempfile

import numpy as np

from tinyrnn.host.training.model import ModelConfig, native_stderr_captured, run_numpy

RUNTIME_KERNELS = "built-in kernels"  # no XNNPACK delegate: it gives different int8 results


def calibration_samples(weights: dict, cfg: ModelConfig, x_norm: np.ndarray, lengths: np.ndarray,
                        count: int = 3000, seed: int = 0) -> list[list[np.ndarray]]:
    """(x_t, states...) tuples the float step model actually sees on the training data, for PTQ ranges."""
    _, states = run_numpy(weights, cfg, x_norm, lengths, keep_states=True)
    real = np.argwhere(np.arange(x_norm.shape[1])[None, :] < lengths[:, None])  # (seq, t) of every real step
    rng = np.random.default_rng(seed)
    picks = real[rng.choice(len(real), size=min(count, len(real)), replace=False)]
    return [[x_norm[i, t][None]] + [s[i, t][None] for s in states] for i, t in picks]


def convert_int8(step_model, cfg: ModelConfig, samples: list[list[np.ndarray]]) -> bytes:
    """int8 TFLite flatbuffer with int8 inputs and outputs, batch size 1."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    names = ["x", *cfg.state_names()]
    specs = [tf.TensorSpec([1, cfg.input_dim], tf.float32, name="x")]
    specs += [tf.TensorSpec([1, cfg.units], tf.float32, name=n) for n in cfg.state_names()]

    output_names = ["y", *[f"{n}_next" for n in cfg.state_names()]]

    @tf.function(input_signature=specs)
    def step(*inputs):
        return list(step_model(list(inputs)))  # [y, h0_next, (c0_next), ...]

    # Freeze the Keras variables into constants (converting with live variables leaves READ_VARIABLE ops that
    # int8 calibration cannot run), then go through a SavedModel so the TFLite signature keeps our names.
    frozen = convert_variables_to_constants_v2(step.get_concrete_function())

    @tf.function(input_signature=specs)
    def serve(*inputs):
        return dict(zip(output_names, frozen(*inputs)))

    def representative():
        for sample in samples:
            yield dict(zip(names, sample))

    with tempfile.TemporaryDirectory(prefix="tinyrnn-step-") as saved:
        module = tf.Module()
        module.serve = serve
        tf.saved_model.save(module, saved, signatures={"serving_default": serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        with native_stderr_captured():  # the converter's C++ logging is noise unless it fails
            return converter.convert()


def _interpreter_class():
    try:
        from ai_edge_litert import interpreter as litert

        import ai_edge_litert
        version = getattr(ai_edge_litert, "__version__", None)
        if version is None:
            from importlib.metadata import version as dist_version
            version = dist_version("ai-edge-litert")
        return litert.Interpreter, litert.OpResolverType, f"LiteRT {version} {RUNTIME_KERNELS}"
    except ImportError:  # fall back to TensorFlow's bundled (deprecated) interpreter
        import tensorflow as tf

        return (tf.lite.Interpreter, tf.lite.experimental.OpResolverType,
                f"TensorFlow Lite {tf.__version__} {RUNTIME_KERNELS}")


def runtime_name() -> str:
    return _interpreter_class()[2]


def make_interpreter(model_bytes: bytes):
    cls, resolver, _ = _interpreter_class()
    interp = cls(model_content=model_bytes,
                 experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    return interp


def _quantize(v: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    q = np.round(v / scale) + zero
    return np.clip(q, np.iinfo(np.int8).min, np.iinfo(np.int8).max).astype(np.int8)


def _dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return ((q.astype(np.float32) - zero) * scale).astype(np.float32)


class Int8Stepper:
    """Runs sequences through the int8 step model one step at a time, feeding the state back.

    The output state and the input state have different int8 scales, so each step the state is dequantised
    and requantised into the input's scale (what device code does too).
    """

    def __init__(self, model_bytes: bytes, cfg: ModelConfig):
        self.cfg = cfg
        self.interp = make_interpreter(model_bytes)
        runner = self.interp.get_signature_runner()
        # Map names to tensor details: TFLite orders inputs alphabetically, so never rely on positions.
        by_index = {d["index"]: d for d in self.interp.get_input_details() + self.interp.get_output_details()}
        self.inputs = {n: by_index[d["index"]] for n, d in runner.get_input_details().items()}
        self.outputs = {n: by_index[d["index"]] for n, d in runner.get_output_details().items()}

    def run(self, x_norm: np.ndarray, lengths: np.ndarray, progress=None) -> np.ndarray:
        """Per-step dequantised outputs (n, T, output_dim), zero past each length."""
        cfg, interp = self.cfg, self.interp
        outputs = np.zeros((x_norm.shape[0], x_norm.shape[1], cfg.output_dim), np.float32)
        x_in, y_out = self.inputs["x"], self.outputs["y"]
        names = cfg.state_names()
        for i in range(x_norm.shape[0]):
            states = [np.zeros((1, cfg.units), np.float32) for _ in names]
            for t in range(int(lengths[i])):
                interp.set_tensor(x_in["index"], _quantize(x_norm[i, t][None], x_in))
                for name, s in zip(names, states):
                    interp.set_tensor(self.inputs[name]["index"], _quantize(s, self.inputs[name]))
                interp.invoke()
                outputs[i, t] = _dequantize(interp.get_tensor(y_out["index"]), y_out)[0]
                states = [_dequantize(interp.get_tensor(self.outputs[f"{n}_next"]["index"]),
                                      self.outputs[f"{n}_next"]) for n in names]
            if progress is not None:
                progress.update(1)
        return outputs


def non_integer_tensors(model_bytes: bytes) -> list[str]:
    """Names and dtypes of tensors that are not int8/int16/int32 (should be empty for a full-integer model)."""
    interp = make_interpreter(model_bytes)
    allowed = {np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)}
    return [f"{d['name']}: {np.dtype(d['dtype'])}" for d in interp.get_tensor_details()
            if np.dtype(d["dtype"]) not in allowed]


def op_names(model_bytes: bytes) -> list[str]:
    """Operator names in the int8 graph (for the report)."""
    interp = make_interpreter(model_bytes)
    try:
        return sorted({op["op_name"] for op in interp._get_ops_details()})
    except Exception:  # noqa: BLE001  (a private API: the report can live without it)
        return []
