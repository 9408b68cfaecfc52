"""Check a board against its model over the serial line: bit-exact vs the twin, fidelity vs float, latency.

Streams the artifact's test split sequence by sequence (inputs quantized by the twin, SEQUENCE with per-step
outputs), and compares every output
  (a) with the Python twin of the kernel: must be bit-exact (mismatches counted, the first one shown);
  (b) with the float model's outputs (test_split.npz float_outputs): accuracy, argmax agreement, max/mean
      abs error (final and per step), RMSE, relative L2, cosine similarity;
and summarises the latency per step and per sequence (p50/p99/max) in the board's unit (cycles on silicon,
executed instructions on QEMU) and in µs at the board's clock.

Writes <artifact>/hw/<board>/results.json, hw_report.md and plots there, and <artifact>/hw_report.md (all
boards). A partial run (--limit N) goes to <artifact>/hw/<board>-limit<N>/ instead and is left out of the
combined report, so it never replaces a full run's results; so does a run the link stopped (<board>-stopped/),
which keeps the sequences verified before it stopped. What the link cost (tries, retries, damaged frames,
board resets, re-runs) is in results.json "link" and in the report. The library entry points (`run_test_split`,
`fidelity`, `latency_summary`) are what the hardware suite (tests/hw, tinyrnn.hwtests) uses.
"""

import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from tinyrnn.host.check import board_report, recordings
from tinyrnn.host.check.report_lock import report_lock
from tinyrnn.host.report.html import write_html
from tinyrnn.host.device import qemu
from tinyrnn.host.device.firmware import firmware_dir
from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, WEIGHTS_NAME, Artifact, BoardRun, board_run_dir
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.link.client import connect
from tinyrnn.host.link.transport import DEFAULT_BAUD, server_reconnect
from tinyrnn.quantize.reference.metrics import FIDELITY_TARGETS, check_thresholds, compare_outputs, verdict
from tinyrnn.quantize.twin.cells import TwinModel
from tinyrnn.quantize.twin.params import DamagedKernelFiles, UnsupportedModel

# Fidelity the kernel must reach against the float model (from the kernel's requirements; don't loosen here).
THRESHOLDS = FIDELITY_TARGETS  # the kernel's targets (quantize/reference/metrics.py), one definition


def load_model(model_dir):
    """(twin, manifest, test split arrays) of an artifact directory. A missing or unusable file is a
    TinyRNNError (the artifact's owner says which)."""
    artifact = Artifact.open(model_dir).require(TEST_SPLIT_NAME)
    if not artifact.has(WEIGHTS_NAME) and not artifact.kernel.npz.is_file():
        raise UserError(f"{model_dir}: neither weights.npz nor kernel.npz", "retrain with tinyrnn train")
    manifest = artifact.require_shape()
    split = artifact.test_split().arrays()
    try:
        twin = TwinModel.from_artifact_dir(model_dir)
    except DamagedKernelFiles as e:
        raise TinyRNNError(f"{model_dir}: unreadable artifact ({e})",
                           "the file is damaged or truncated: train or export the model again") from None
    except UnsupportedModel as e:
        raise TinyRNNError(f"{model_dir}: {e}") from None
    return twin, manifest, split


def run_test_split(client, twin, split, limit=None, progress=False, keep_partial=False, resume_from=None):
    """Every test sequence through SEQUENCE (per-step outputs, state reset first). `split` holds "x" (raw
    inputs, quantized by the twin) or "x_q" (kernel inputs), and "lengths".

    Returns a dict of arrays: board (n, T, k) int32, twin (n, T, k) int32, step_ticks (n, T) (0 past each
    length), lengths (n,), x_q (n, T, d) int16. With `keep_partial`, a link that stops the run (a TinyRNNError
    after the client's retries and re-runs) ends it early: the arrays then hold the sequences done so far and
    "stopped" the error (None when every sequence ran); a run that verified nothing raises it.
    `resume_from`: the arrays of a stopped run (load_stopped_run); its sequences are taken as they are and the
    run goes on from the first one it did not verify."""
    lengths = split["lengths"].astype(np.int64)
    n = len(lengths) if limit is None else min(limit, len(lengths))
    lengths = lengths[:n]
    # kernel inputs: given (the user's recordings, pre-processed as the C library does), or the test split's
    x_q = split["x_q"][:n] if "x_q" in split else twin.quantize_input(split["x"][:n])
    expected = twin.run(x_q)
    board = np.zeros_like(expected)
    ticks = np.zeros(x_q.shape[:2], dtype=np.int64)
    done, stopped = 0, None
    if resume_from is not None:
        done = len(resume_from["lengths"])
        if done > n or not np.array_equal(resume_from["x_q"], x_q[:done]):
            raise TinyRNNError("the stopped run was made on other inputs than this one's",
                               "run without --resume (or with the --limit/--inputs of the stopped run)")
        board[:done], ticks[:done] = resume_from["board"], resume_from["step_ticks"]
    sequences = range(done, n)
    if progress:
        from tqdm import tqdm
        sequences = tqdm(sequences, desc=f"{client.info.board_name}", unit="seq", file=sys.stderr,
                         initial=done, total=n)
    for i in sequences:
        length = lengths[i]
        try:
            result = client.sequence(x_q[i, :length], per_step=True, reset=True)
        except TinyRNNError as e:
            if not keep_partial or done == 0:
                raise
            stopped = e
            break
        board[i, :length] = result.outputs
        ticks[i, :length] = result.step_ticks
        done += 1
    return {"board": board[:done], "twin": expected[:done], "step_ticks": ticks[:done], "lengths": lengths[:done],
            "x_q": x_q[:done], "stopped": stopped}


def bit_exactness(run):
    """Mismatches between the board's and the twin's integers over every real step."""
    valid = np.arange(run["board"].shape[1])[None, :] < run["lengths"][:, None]
    differ = (run["board"] != run["twin"]) & valid[..., None]
    first = None
    if differ.any():
        seq, step, out = (int(v) for v in np.argwhere(differ)[0])
        first = {"sequence": seq, "step": step, "output": out,
                 "board": int(run["board"][seq, step, out]), "twin": int(run["twin"][seq, step, out])}
    return {"mismatched_values": int(differ.sum()), "mismatched_steps": int(differ.any(-1).sum()),
            "total_values": int(valid.sum() * run["board"].shape[-1]), "first_mismatch": first}


def fidelity(run, twin, manifest, split):
    """The board's outputs against the float model: the project's figures (quantize/reference/metrics.py) plus
    RMSE, relative L2 error, cosine similarity and per-step argmax agreement over every real step."""
    n = len(run["lengths"])
    board = twin.dequantize_output(run["board"])
    ref = split["float_outputs"][:n].astype(np.float64)
    figures = compare_outputs(ref, board, run["lengths"], split["y"][:n], manifest["task"],
                              manifest.get("target_norm"))
    valid = np.arange(board.shape[1])[None, :] < run["lengths"][:, None]
    b, r = board[valid], ref[valid]
    diff = b - r
    figures.update(
        rmse_vs_float=float(np.sqrt(np.mean(diff ** 2))),
        relative_l2=float(np.linalg.norm(diff) / max(np.linalg.norm(r), 1e-30)),
        cosine_similarity=float(np.sum(b * r) / max(np.linalg.norm(b) * np.linalg.norm(r), 1e-30)),
    )
    if manifest["task"] == "classification":
        figures["step_argmax_agreement"] = float(np.mean(b.argmax(-1) == r.argmax(-1)))
        rows = np.arange(n)
        figures["float_accuracy"] = float(np.mean(ref[rows, run["lengths"] - 1].argmax(-1) == split["y"][:n]))
    return figures


def _stats(values):
    values = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)),
            "max": float(values.max()), "min": float(values.min()), "mean": float(values.mean())}


def latency_summary(run, info):
    """Per-step and per-sequence latency in the board's unit and in µs at its clock."""
    valid = np.arange(run["step_ticks"].shape[1])[None, :] < run["lengths"][:, None]
    per_step = info.ticks_to_count(run["step_ticks"][valid])
    per_seq = info.ticks_to_count(run["step_ticks"].sum(axis=1))
    note = ("executed instructions (SysTick under QEMU -icount shift=0, or RISC-V minstret), not cycles; "
            f"resolution {info.ticks_to_count(1):g} instructions; µs assume one instruction per cycle at "
            f"{info.cpu_clock_hz / 1e6:g} MHz" if info.unit == "instructions" else
            "wall-clock µs around each step (time.ticks_us: an interpreter, not a cycle count)"
            if info.unit == "microseconds" else
            f"CPU cycles (DWT/SysTick); µs at {info.cpu_clock_hz / 1e6:g} MHz")
    return {"unit": info.unit, "note": note, "cpu_clock_hz": info.cpu_clock_hz,
            "per_step": _stats(per_step), "per_step_us": _stats(info.count_to_us(per_step)),
            "per_sequence": _stats(per_seq), "per_sequence_us": _stats(info.count_to_us(per_seq)),
            "per_step_values": per_step.tolist()}


def firmware_size(board_name, model_dir):
    """The size report `make -C firmware` wrote for this board and model, if it is there."""
    try:
        path = firmware_dir(board_name, model_dir) / "size.json"
    except TinyRNNError:
        return None
    return json.loads(path.read_text()) if path.is_file() else None


PYTHON_KERNEL_PATH = "mpy"        # INFO's kernel_path of the pure-Python kernel (firmware/micropython/tinyrnn_model.py)
MODULES = {"natmod": "natmod (tinyrnn_c.mpy loaded at run time)", "cmodule": "user C module (compiled in)",
           "python": "pure Python (tinyrnn_mp)"}
NOT_REPORTED = "not reported by the board's server"


def micropython_heap(board_counts):
    """The heap figures of a MicroPython server's STATS ({"model_bytes", "free_bytes", "size_bytes", "text"}), or
    None when the board measured none (the C firmware; a run whose STATS did not come)."""
    counts = board_counts or {}
    if not counts.get("heap_size"):
        return None
    model, free, size = counts["heap_model"], counts["heap_free"], counts["heap_size"]
    return {"model_bytes": model, "free_bytes": free, "size_bytes": size,
            "text": f"model {model:,} B (kernel module, loader, weights, buffers); {free:,} B free of {size:,} B "
                    f"at the end of the run, after a collection"}


def micropython_runtime(info, board_counts=None):
    """For a MicroPython board: the implementation, architecture and heap, as far as the run can know them (the
    board data of an emulated board; the kernel path INFO names; the heap from the board's STATS,
    `board_counts`); None for the kit's own firmware."""
    from tinyrnn.host.device.boards import load_board
    from tinyrnn.quantize.errors import BoardDataError

    try:
        runtime = load_board(info.board_name).runtime
    except BoardDataError:
        runtime = {}
    if runtime.get("kind") != "micropython" and info.kernel_path != PYTHON_KERNEL_PATH:
        return None
    if info.kernel_path == PYTHON_KERNEL_PATH:
        implementation = MODULES["python"]
    else:
        implementation = MODULES.get(runtime.get("module"),
                                     "C kernels through tinyrnn_c (natmod or user C module: the board does not say)")
    heap = micropython_heap(board_counts)
    return {"implementation": implementation, "kernel_path": info.kernel_path,
            "architecture": runtime.get("natmod_arch") or NOT_REPORTED,
            "heap_model_bytes": heap and heap["model_bytes"], "heap_free_bytes": heap and heap["free_bytes"],
            "heap_size_bytes": heap and heap["size_bytes"], "heap": heap["text"] if heap else NOT_REPORTED}


def evaluate(port, model_dir, baud=DEFAULT_BAUD, limit=None, progress=True, link_options=None, inputs=None,
             resume=False):
    """The whole harness run; returns (results dict, run arrays, twin, split). `link_options` go to the
    client (timeout, retries, reruns, max_chunk, adaptive, reconnect; run_dir: where to look for the run record
    of an emulator on `port`, which is followed to a new pty if the emulator is restarted). A run the link
    stopped returns what it verified, with results["stopped"] saying why (and passed False).

    `inputs`: a recordings file of the user's (host/check/recordings.py) instead of the test split: its raw
    values pre-processed as the C library does, the float model run on the host; the verdict is bit-exactness
    (the kernel's fidelity targets are for the test split: on the user's data the figures are reported only),
    and results["inputs"] carries the file and every sequence's board and float predictions.

    `resume`: go on from the run the link stopped on this board (its sequences, saved in
    <board>-stopped/run.npz, are taken as verified then) instead of starting again."""
    prepared = None
    if inputs is None:
        twin, manifest, split = load_model(model_dir)
    else:
        twin, manifest, weights = recordings.load_model(model_dir)
        prepared = recordings.prepare(recordings.load_recordings(inputs), twin, manifest)
        split = {"x_q": prepared.x_q, "lengths": prepared.lengths,
                 "float_outputs": recordings.float_outputs(prepared, manifest, weights)}
    started = time.monotonic()
    link_options = dict(link_options or {})
    if "reconnect" not in link_options:
        # An emulator recorded in the run directory (tinyrnn flash): if it is restarted on a new pty, follow it;
        # a serial server (ser2net) that restarts: open its address again.
        link_options["reconnect"] = qemu.follower(port, link_options.pop("run_dir", None)) or server_reconnect(port)
    link_options.pop("run_dir", None)
    client = connect(port, baud, expected_hash=twin.model_hash, **link_options)
    try:
        info = client.info
        if (info.input_dim, info.output_dim) != (manifest["input_dim"], manifest["output_dim"]):
            raise TinyRNNError(f"board model is {info.input_dim}->{info.output_dim}, artifact "
                               f"{manifest['input_dim']}->{manifest['output_dim']}")
        resume_from = load_stopped_run(model_dir, info.board_name, limit, inputs, twin.model_hash) \
            if resume else None
        run = run_test_split(client, twin, split, limit=limit, progress=progress,
                             keep_partial=True, resume_from=resume_from)
        board_counts = None
        if run["stopped"] is None:
            try:   # the board's own view of the link (STATS): its receive ring must have dropped nothing
                board_counts = client.board_stats().as_dict()
            except TinyRNNError:
                pass
    finally:
        client.transport.close()
    stopped = run.pop("stopped")
    mismatched = bit_exactness(run)
    if prepared is None:
        figures = fidelity(run, twin, manifest, split)
        thresholds = check_thresholds(figures, manifest["task"])
    else:
        done = prepared.head(len(run["lengths"]))
        board = twin.dequantize_output(run["board"])
        ref = split["float_outputs"][:len(done.names)]
        figures = recordings.compare(done, ref, board, manifest)
        thresholds = {}
    results = {
        "board": info.board_name, "port": port, "model": Path(model_dir).resolve().name,
        "model_hash": info.model_hash, "cell": info.cell, "layers": info.layers, "units": info.units,
        "input_dim": info.input_dim, "output_dim": info.output_dim, "kernel_path": info.kernel_path,
        "cpu_clock_hz": info.cpu_clock_hz, "task": manifest["task"],
        "sequences": int(len(run["lengths"])), "steps": int(run["lengths"].sum()),
        "limit": limit,                       # None: the whole test split
        "bit_exact": mismatched,
        "fidelity": figures,
        "thresholds": thresholds,
        "latency": latency_summary(run, info),
        "firmware_size": firmware_size(info.board_name, model_dir),
        "runtime": micropython_runtime(info, board_counts),
        "wall_seconds": round(time.monotonic() - started, 2),
        "link": {**client.stats.as_dict(), "board": board_counts},
        "stopped": stopped.one_line() if stopped else None,
        # sequences taken from the stopped run this one resumed (the link figures are this run's only)
        "resumed_sequences": len(resume_from["lengths"]) if resume_from else 0,
    }
    if prepared is not None:
        results["inputs"] = {
            "file": str(Path(inputs).resolve()), "downsample": prepared.downsample, "skipped": prepared.skipped,
            "preprocessing": "the C library's push_float (quantize/twin/preprocess.py)",
            "per_sequence": recordings.per_sequence(done, manifest, ref, board, test_name="board")}
    results["verdict"] = verdict(results["thresholds"], mismatched=results["bit_exact"]["mismatched_values"])
    if stopped:
        results["verdict"] = {"passed": False, "reasons": [f"the link stopped the run: {stopped.one_line()}",
                                                           *results["verdict"]["reasons"]]}
    # Warnings do not change the verdict: the outputs are exact, but something the user should know happened.
    results["verdict"]["warnings"] = []
    if board_counts and board_counts["rx_dropped"]:
        results["verdict"]["warnings"].append(
            f"the board's receive ring dropped {board_counts['rx_dropped']} bytes (requests were resent): a "
            "firmware or baud-rate problem")
    results["passed"] = results["verdict"]["passed"]
    return results, run, twin, split


def output_dir(model_dir, board_name, limit=None, stopped=False, inputs=None):
    """<artifact>/hw/<board>/ for a full run; <artifact>/hw/<board>-limit<N>/ for a partial one, and
    <board>-stopped/ (or <board>-limit<N>-stopped/) for a run the link stopped. A run on the user's recordings
    goes to <artifact>/inputs/<file stem>/<board>.../ instead: never among the test split's board figures."""
    return board_run_dir(model_dir, board_name, limit, stopped, inputs)


STOPPED_RUN = "run.npz"        # a stopped run's verified sequences, for `tinyrnn harness --resume`


def save_stopped_run(run, results, out):
    np.savez(out / STOPPED_RUN, board=run["board"], step_ticks=run["step_ticks"], lengths=run["lengths"],
             x_q=run["x_q"], model_hash=np.array(results["model_hash"]))


def load_stopped_run(model_dir, board_name, limit=None, inputs=None, model_hash=None):
    """The arrays a stopped run of this board saved (save_stopped_run); a one-line error if there is none, or
    it was made with another model."""
    path = output_dir(model_dir, board_name, limit, stopped=True, inputs=inputs) / STOPPED_RUN
    if not path.is_file():
        raise TinyRNNError(f"nothing to resume: no stopped run of {board_name} at {path.parent}",
                           "run without --resume (and with the --limit/--inputs of the stopped run, if any)")
    try:
        with np.load(path) as saved:
            arrays = {k: saved[k] for k in ("board", "step_ticks", "lengths", "x_q", "model_hash")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise TinyRNNError(f"{path}: cannot read the stopped run ({e})", "run without --resume") from None
    if model_hash is not None and str(arrays["model_hash"]) != model_hash:
        raise TinyRNNError(f"the stopped run at {path.parent} was made with model {arrays['model_hash']}, the "
                           f"board runs {model_hash}", "run without --resume")
    return arrays


def write_outputs(results, run, twin, split, model_dir, plots=True):
    """results.json + report section + plots in `output_dir(...)`, and the combined hw_report.md (which
    lists full runs only)."""
    inputs = (results.get("inputs") or {}).get("file")
    out = output_dir(model_dir, results["board"], results.get("limit"), bool(results.get("stopped")), inputs)
    with report_lock(model_dir):      # read by the combined report another board's run may be writing
        BoardRun.from_dict(results).write(out)
    if results.get("stopped"):
        save_stopped_run(run, results, out)
    elif results.get("resumed_sequences"):     # finished: the stopped run's arrays are in this one now
        stopped = output_dir(model_dir, results["board"], results.get("limit"), True, inputs) / STOPPED_RUN
        stopped.unlink(missing_ok=True)
    if plots:
        classes = _manifest_classes(model_dir)
        board_report.plot_latency(results, out / "latency_hist.png")
        board_report.plot_outputs(run, twin, split, results, out / "outputs_vs_float.png", classes)
    (out / "hw_report.md").write_text(board_report.board_section(results, plots))
    if inputs is None:
        with report_lock(model_dir):      # other boards' runs write these too (tinyrnn hwtest -j N)
            board_report.write_combined(Path(model_dir))
            write_html(model_dir)
    return out


def _manifest_classes(model_dir):
    manifest = Artifact.peek(model_dir)
    return manifest.classes if manifest else None
