"""The whole chain on one emulated board: train (or reuse) a model, generate C, build, run, check over serial.

An existing artifact directory is reused (retrain with `tinyrnn train --force --out DIR`). The board is
started in QEMU for the check and stopped afterwards. Exit status 0 when the board answered bit-exactly what
the host's twin of the kernel predicts.
"""
from __future__ import annotations

from pathlib import Path

from tinyrnn.host.check import harness
from tinyrnn.host.check.board_report import summary_lines
from tinyrnn.host.commands.base import run_command
from tinyrnn.host.commands.options import add_board, add_model
from tinyrnn.host.defaults import DEFAULT_BOARD, DEFAULT_MODEL
from tinyrnn.host.device.firmware import ensure_exported
from tinyrnn.host.device.targets import load_target
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.report.html import REPORT_NAME
from tinyrnn.quantize.artifact import Artifact

EXAMPLES = """\
  {prog}                                 # default model on qemu-mps2-an386 (what `make demo` runs)
  {prog} --board qemu-microbit
  {prog} --model build/japanese_vowels-lstm32 --board qemu-netduinoplus2
"""


def ensure_model(model_dir: Path) -> None:
    """Train the default model unless the artifact directory is already there; make sure its C exists."""
    if Artifact.exists(model_dir):
        print(f"[demo] model: {model_dir}/ (trained earlier or by make; retrain: tinyrnn train --force "
              f"--out {model_dir})", flush=True)
    else:
        print(f"[demo] training the default model into {model_dir}/", flush=True)
        if run_command("tinyrnn.host.commands.train", ["--out", str(model_dir)], prog="tinyrnn train") != 0:
            raise TinyRNNError("training failed (see above)")
    ensure_exported(model_dir)


def verdict_lines(results: dict) -> list[str]:
    """Three lines a person reads first: bit-exactness, closeness to float, speed."""
    be, fid, lat = results["bit_exact"], results["fidelity"], results["latency"]
    exact = be["mismatched_values"] == 0
    failed = [name for name, check in results["thresholds"].items() if not check["passed"]]
    agreement = fid.get("argmax_agreement")
    closeness = (f"argmax agreement with float {agreement:.3f}, " if agreement is not None else "") + \
        f"final max abs {fid['final_max_abs']:.4f}, step max abs {fid['step_max_abs']:.4f}"
    return [
        f"bit-exact with the host's twin: {'YES' if exact else 'NO'} "
        f"({be['total_values'] - be['mismatched_values']:,} of {be['total_values']:,} outputs)",
        f"vs the float model: {closeness} "
        f"({'all fidelity targets met' if not failed else 'target missed: ' + ', '.join(failed)})",
        f"speed: {lat['per_step']['p50']:,.0f} {lat['unit']} per step (p50) on {results['board']} "
        f"with the {results['kernel_path']} kernel path",
    ]


def add_arguments(p):
    add_board(p, default=DEFAULT_BOARD, what="emulated board", note=None)
    add_model(p, default=DEFAULT_MODEL)


def run(args) -> int:
    target = load_target(args.board)
    if not target.unattended:
        raise UserError(f"{target.name} is a real board; the demo runs on an emulated one",
                        f"flash it with tinyrnn flash --board {target.name} --model {args.model}, "
                        "then tinyrnn harness --port PORT")
    ensure_model(args.model)
    print(f"[demo] building the firmware for {target.name}", flush=True)
    image = target.build(args.model)
    running = target.start(args.model, image)
    try:
        print(f"[demo] {target.name} running in QEMU on {running.port}; streaming the test split", flush=True)
        results, run_arrays, twin, split = harness.evaluate(running.port, args.model)
    finally:
        target.stop()
    harness.write_outputs(results, run_arrays, twin, split, args.model)
    print()
    for line in summary_lines(results):
        print(line)
    print("\nverdict:")
    for line in verdict_lines(results):
        print("  " + line)
    print(f"report: {args.model / REPORT_NAME} (training, int8, kernel and every board; open it in a browser)")
    return 0 if results["bit_exact"]["mismatched_values"] == 0 else 1
