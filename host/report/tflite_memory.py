"""The int8 TFLite model's memory, for the reports' flash and RAM rows (report.md and report.html call this).

Flash: the .tflite flatbuffer's size, what TensorFlow Lite Micro keeps in flash (its interpreter's code is not
counted). RAM: the bytes of the graph's non-constant tensors (its inputs and every operator's outputs) summed, as
the LiteRT interpreter's tensor details give them: an upper bound, since TFLite Micro's arena planner lets tensors
that are never alive together share memory (its arena also holds per-operator data, not counted).
"""
from pathlib import Path

import numpy as np

from tinyrnn.quantize.artifact import INT8_TFLITE_NAME

# The memory rows of both reports: what each column's figure is.
MEMORY_LABELS = {
    "flash_bytes": "flash bytes (kernel: kernel+model, {core}; int8 TFLite: the .tflite flatbuffer TFLite Micro "
                   "keeps in flash, interpreter code not included)",
    "ram_bytes": "RAM bytes (kernel: state + scratch; int8 TFLite: its non-constant tensors summed, an upper bound "
                 "without arena planning)",
}
NOT_MEASURED = "not measured"
NO_INTERPRETER = "not measured (needs ai-edge-litert: pip install 'tinyrnn[train]')"
NOT_A_MODEL = "not measured (" + INT8_TFLITE_NAME + " does not load: {why})"


def memory_labels(core: str) -> dict:
    """{"flash_bytes", "ram_bytes"} row labels, the kernel's flash named for `core`."""
    return {key: label.format(core=core) for key, label in MEMORY_LABELS.items()}


def _live_tensor_bytes(path: Path) -> int | None:
    """Sum of the sizes of the graph's inputs and operator outputs; None without the LiteRT interpreter."""
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        return None
    graph = litert.Interpreter(model_path=str(path))    # ValueError: not a TFLite flatbuffer
    live = {d["index"] for d in graph.get_input_details()}
    for op in graph._get_ops_details():     # noqa: SLF001 (the only way LiteRT names each operator's outputs)
        live.update(int(t) for t in op["outputs"])
    return sum(int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
               for d in graph.get_tensor_details() if d["index"] in live)


def tflite_memory(model_dir) -> dict | None:
    """{"flash_bytes", "ram_bytes"} of <model_dir>/model_int8.tflite, in bytes; a cell that cannot be measured
    holds the reason (LiteRT not installed, a damaged file). None when the directory has no int8 model."""
    path = Path(model_dir) / INT8_TFLITE_NAME
    if not path.is_file():
        return None
    try:
        ram = _live_tensor_bytes(path)
    except ValueError as e:
        why = NOT_A_MODEL.format(why=str(e).strip().splitlines()[0])
        return {"flash_bytes": why, "ram_bytes": why}
    return {"flash_bytes": path.stat().st_size, "ram_bytes": NO_INTERPRETER if ram is None else ram}
