"""ONNX models (`.onnx`) read with `onnx` and run with onnxruntime for the float reference.

Accepted: the `GRU` (both `linear_before_reset` values) and `LSTM` operators, forward, default activations, no
clip, peepholes or input_forget, chained for a stack; around them the operators torch.onnx.export and tf2onnx
write (normalisation as Sub/Div by constants on the input, transposes, the initial-state arithmetic, Squeeze,
Slice/Gather of the last step), then MatMul + Add or Gemm as the head and an optional Softmax. Any other
operator is refused in one line naming the node.

Mapping (docs/import.md): ONNX GRU gates (z, r, h) are Keras' (z, r, n); W/R/B hold them stacked per direction;
B is [Wb, Rb]: linear_before_reset=1 is Keras' reset_after (two bias rows), 0 is reset_before (Wb + Rb). ONNX LSTM
gates (i, o, f, c) become Keras' (i, f, c, o), with Wb + Rb as the one bias.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tinyrnn.host.importers.imported import LINEAR, SOFTMAX, SUPPORTED, ImportedModel, LayoutRefused, refuse
from tinyrnn.quantize.errors import UserError

ONNX_SUFFIXES = (".onnx",)
RECURRENT = ("GRU", "LSTM")
# Operators that carry data or shapes around the recurrent ones and compute nothing the kernel must do.
PLUMBING = {"Transpose", "Shape", "Gather", "ConstantOfShape", "Concat", "Unsqueeze", "Squeeze", "Slice", "Reshape",
            "Constant", "Expand", "Cast", "Identity", "Dropout", "Flatten"}
ARITHMETIC = {"Sub", "Div", "Mul", "Add", "MatMul", "Gemm", "Softmax"}
DEFAULT_ACTIVATIONS = {"GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


def require_onnx():
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"importing an ONNX model needs {', '.join(missing)}, not installed here",
                        "pip install 'tinyrnn[onnx]'")
    import onnx
    import onnxruntime
    return onnx, onnxruntime


def load(path: Path) -> ImportedModel:
    onnx, ort = require_onnx()
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidGraph, RuntimeException

    def unreadable(err):
        return UserError(f"{path}: onnx cannot read it ({' '.join(str(err).split())[:300]})",
                         "export the model again (torch.onnx.export or tf2onnx)")

    try:
        model = onnx.load(str(path))
    except (OSError, ValueError, RuntimeError) as err:
        raise unreadable(err) from None

    def session():     # made after the structure is read, so a refused construct is named, not a load error
        try:
            return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except (Fail, InvalidArgument, InvalidGraph, RuntimeException) as err:
            raise unreadable(err) from None

    return read_graph(model.graph, f"ONNX {path.name}", session)


def graph_constants(graph) -> dict:
    """Initializers and Constant nodes' values by name."""
    from onnx import numpy_helper

    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    constants[node.output[0]] = numpy_helper.to_array(attr.t)
    return constants


def read_graph(graph, source: str, make_session) -> ImportedModel:
    constants = graph_constants(graph)
    fed = [i.name for i in graph.input if i.name not in constants]
    if len(fed) != 1 or len(graph.output) != 1:     # tf2onnx makes a Keras 3 Normalization's mean/variance inputs
        raise refuse(source, f"a graph with {len(fed)} inputs ({', '.join(fed)[:200]}) and {len(graph.output)} "
                     "outputs", "one input (the frames), one output; constants stored in the graph")
    for node in graph.node:     # named before any operator of its condition (Less, And, ...)
        if node.op_type in ("Loop", "Scan"):
            raise refuse(f"node '{node.name or node.output[0]}' ({node.op_type})",
                         "a recurrent layer written as a loop rather than a GRU/LSTM operator (tf2onnx writes a "
                         "Keras 3 GRU so: import the .keras file)", SUPPORTED)
    recurrent, head, softmax = [], None, False
    for node in graph.node:
        where = f"node '{node.name or node.output[0]}' ({node.op_type})"
        if node.op_type in RECURRENT:
            if head is not None:
                raise refuse(where, "a recurrent operator after the head", SUPPORTED)
            recurrent.append(read_recurrent(node, where, constants))
        elif node.op_type in ("MatMul", "Gemm") and recurrent:
            if head is not None:
                raise refuse(where, "a second matrix product (the kernel has one dense head)", SUPPORTED)
            head = read_head(node, where, constants)
        elif node.op_type == "Add" and head is not None and "bias" not in head:
            head["bias"] = next((constants[i] for i in node.input if i in constants), None)
        elif node.op_type == "Softmax":
            softmax = True
        elif node.op_type not in PLUMBING | ARITHMETIC:
            raise refuse(where, "this operator", SUPPORTED)
    if not recurrent or head is None:
        raise refuse(source, "a graph without a GRU/LSTM operator and a head after it", SUPPORTED)
    kinds = {(cell, reset) for cell, reset, _ in recurrent}
    if len(kinds) > 1:
        raise refuse(source, "a stack mixing GRU and LSTM or the two linear_before_reset values", SUPPORTED)
    weights = {}
    for l, (_, _, arrays) in enumerate(recurrent):
        weights.update({f"layer{l}_{name}": value for name, value in arrays.items()})
    weights["head_kernel"] = head["kernel"].astype(np.float32)
    bias = head.get("bias")
    weights["head_bias"] = (np.zeros(head["kernel"].shape[1]) if bias is None else bias).astype(np.float32)
    cell, reset_after = recurrent[0][0], recurrent[0][1]
    units = weights["layer0_recurrent"].shape[0]
    input_dim = weights["layer0_kernel"].shape[0]
    input_name = next(i.name for i in graph.input if i.name not in constants)
    session = make_session()
    return ImportedModel(
        source=source, cell=cell, units=int(units), layers=len(recurrent), reset_after=reset_after,
        input_dim=int(input_dim), output_dim=int(weights["head_kernel"].shape[1]),
        head=SOFTMAX if softmax else LINEAR, weights=weights, norm=input_norm(graph, input_name, constants, input_dim),
        step_outputs=per_step_runner(session, input_name, True), notes=[f"read from {source}"],
        other_layouts=[per_step_runner(session, input_name, False)])


def _attributes(node) -> dict:
    import onnx
    return {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}


def read_recurrent(node, where: str, constants: dict) -> tuple:
    """(cell, reset_after, {"kernel", "recurrent", "bias"}) of one GRU/LSTM operator, refusing what the kernel
    cannot run."""
    attrs = _attributes(node)
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction != "forward":
        raise refuse(where, f"direction '{direction}' (a stream cannot look ahead)", SUPPORTED)
    activations = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    if activations and activations != DEFAULT_ACTIVATIONS[node.op_type]:
        raise refuse(where, f"activations {activations}", "the default sigmoid and tanh")
    if "clip" in attrs:
        raise refuse(where, "clip", SUPPORTED)
    if attrs.get("input_forget"):
        raise refuse(where, "input_forget=1", SUPPORTED)
    if attrs.get("layout"):
        raise refuse(where, "layout=1", "the default time-major layout (0)")
    inputs = list(node.input) + [""] * 8
    if node.op_type == "LSTM" and inputs[7] and np.any(constants.get(inputs[7], 1) != 0):
        raise refuse(where, "peephole connections", SUPPORTED)
    for name in inputs[1:3]:
        if name not in constants:
            raise refuse(where, "weights computed in the graph rather than stored", SUPPORTED)
    W, R = constants[inputs[1]][0], constants[inputs[2]][0]
    gates = W.shape[0]
    B = constants[inputs[3]][0] if inputs[3] in constants else np.zeros(2 * gates)
    Wb, Rb = B[:gates], B[gates:]
    if node.op_type == "GRU":
        reset_after = bool(attrs.get("linear_before_reset", 0))
        # linear_before_reset=0 adds Rbh outside the reset gate, as Keras' reset_before adds its one bias.
        bias = np.stack([Wb, Rb]) if reset_after else Wb + Rb
        return "gru", reset_after, {"kernel": W.T.astype(np.float32), "recurrent": R.T.astype(np.float32),
                                    "bias": np.asarray(bias, np.float32)}
    i, o, f, c = np.split(np.arange(gates), 4)
    order = np.concatenate([i, f, c, o])
    return "lstm", False, {"kernel": W[order].T.astype(np.float32), "recurrent": R[order].T.astype(np.float32),
                           "bias": (Wb + Rb)[order].astype(np.float32)}


def read_head(node, where: str, constants: dict) -> dict:
    attrs = _attributes(node)
    weight = next((constants[i] for i in node.input[1:2] if i in constants), None)
    if weight is None or weight.ndim != 2:
        raise refuse(where, "a head whose weights are not stored in the graph", SUPPORTED)
    kernel = weight.T if attrs.get("transB") else weight
    head = {"kernel": kernel}
    if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] in constants:
        head["bias"] = constants[node.input[2]] * attrs.get("beta", 1.0)
        head["kernel"] = kernel * attrs.get("alpha", 1.0)
    return head


def input_norm(graph, input_name: str, constants: dict, input_dim: int) -> tuple | None:
    """(mean, std) of the affine map applied to the graph input by constants before anything else, as
    `(x - mean) / std`; None when there is none. torch.onnx.export writes `(x - mean) / std` as Sub, Div; tf2onnx
    writes a Keras Normalization as Sub, Mul by 1 / std and a Rescaling as Mul, Add. The pipeline's check against
    onnxruntime catches any reading that is not the graph's."""
    consumers: dict = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def constant_operand(node):
        other = [i for i in node.input if i in constants]
        value = constants[other[0]].astype(np.float64) if len(other) == 1 else None
        return None if value is None or value.size not in (1, input_dim) else \
            np.broadcast_to(value.reshape(-1), (input_dim,)).copy()

    scale, shift, name = np.ones(input_dim), np.zeros(input_dim), input_name
    while True:     # x -> scale * x + shift, one elementwise step at a time (Shape consumers read no values)
        steps = [n for n in consumers.get(name, []) if n.op_type != "Shape"]
        if len(steps) != 1 or steps[0].op_type not in ("Sub", "Add", "Mul", "Div"):
            break
        node = steps[0]
        value = constant_operand(node)
        if value is None or (node.op_type in ("Sub", "Div") and node.input[0] != name) or \
                (node.op_type == "Div" and np.any(value == 0)):
            break
        if node.op_type == "Sub":
            shift = shift - value
        elif node.op_type == "Add":
            shift = shift + value
        elif node.op_type == "Mul":
            scale, shift = scale * value, shift * value
        else:
            scale, shift = scale / value, shift / value
        name = node.output[0]
    if name == input_name or np.any(scale <= 0):
        return None
    return (-shift / scale).astype(np.float32), (1.0 / scale).astype(np.float32)


def per_step_runner(session, input_name: str, batch_first: bool):
    """onnxruntime's output after every step on raw padded inputs (n, T, d) -> (n, T, k); see torch_model's."""
    def call(x: np.ndarray) -> np.ndarray:
        feed = np.ascontiguousarray(x if batch_first else x.transpose(1, 0, 2))
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, RuntimeException
        try:
            out = session.run(None, {input_name: feed})[0]
        except (InvalidArgument, Fail, RuntimeException) as err:    # shapes of the other layout
            raise LayoutRefused(" ".join(str(err).split())[:200]) from None
        return out if batch_first or out.ndim == 2 else out.transpose(1, 0, 2)

    def run(raw: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        raw = raw.astype(np.float32)
        n, T, _ = raw.shape
        whole = call(raw)
        if whole.ndim == 3 and whole.shape[:2] == (n, T):
            return whole.astype(np.float32)
        if whole.shape[0] != n:     # the graph read the other axis as its batch: not this layout
            raise LayoutRefused(f"an output of shape {whole.shape} for {n} sequences")
        return np.stack([call(raw[:, :t + 1]) for t in range(T)], axis=1).astype(np.float32)

    return run
