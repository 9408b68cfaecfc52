"""The whole chain on one board: train (or reuse) a model, generate C, build, flash, check over serial.

    python host/demo.py                                   # default model on qemu-mps2-an386 (what `make demo` runs)
    python host/demo.py --board qemu-microbit
    python host/demo.py --model build/japanese_vowels-lstm32 --board qemu-netduinoplus2

An existing artifact directory is reused (retrain with `python host/train.py --force --out DIR`).
An emulated board is started in QEMU for the check and stopped afterwards. Exit status 0 when the board
answered bit-exactly what the host's twin of the kernel predicts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python host/demo.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host import harness, qemu  # noqa: E402
from host.boards import DEFAULT_BOARD, DEFAULT_MODEL, CliParser, load_board  # noqa: E402
from host.errors import TinyRNNError  # noqa: E402
from host.flash import build, ensure_exported  # noqa: E402


def ensure_model(model_dir: Path) -> None:
    """Train the default model unless the artifact directory is already there; make sure its C exists."""
    if (model_dir / "model.json").is_file():
        print(f"[demo] model: {model_dir}/ (trained earlier or by make; retrain: python host/train.py --force "
              f"--out {model_dir})", flush=True)
    else:
        from host import train
        print(f"[demo] training the default model into {model_dir}/", flush=True)
        if train.main(["--out", str(model_dir)]) != 0:
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


def main(argv=None) -> int:
    ap = CliParser(prog="python host/demo.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--board", default=DEFAULT_BOARD, help="board name (default %(default)s)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="artifact directory (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        board = load_board(args.board)
        if not board.emulated:
            raise TinyRNNError(f"{board.name} is a real board: flash it with python host/flash.py --board "
                               f"{board.name} --model {args.model}, then python host/harness.py --port PORT")
        ensure_model(args.model)
        print(f"[demo] building the firmware for {board.name}", flush=True)
        elf = build(board, args.model)
        record = qemu.start(board, elf)
        try:
            print(f"[demo] {board.name} running in QEMU on {record.port}; streaming the test split", flush=True)
            results, run, twin, split = harness.evaluate(record.port, args.model)
        finally:
            qemu.stop(board.name)
        out = harness.write_outputs(results, run, twin, split, args.model)
    except TinyRNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    for line in harness.summary_lines(results):
        print(line)
    print("\nverdict:")
    for line in verdict_lines(results):
        print("  " + line)
    print(f"report: {args.model / 'report.md'} (training, int8, kernel) and {out / 'hw_report.md'} (board)")
    return 0 if results["bit_exact"]["mismatched_values"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
