"""Soak the link (a measurement, not a CI test): N sequences back to back on qemu-mps2-an386 behind the fault
proxy at byte-fault probability P, checked bit-exact against the twin; prints latency per block of sequences
(drift), the client's link counts, the board's STATS (ring drops, high-water mark), the host's peak RSS.

    .venv/bin/python tests/soak_link.py --sequences 10000 --p 1e-4 [--model DIR]
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware import build
from tinyrnn.host.link.client import connect
from tinyrnn.host.link.faults import FaultProxy
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequences", type=int, default=10000)
    ap.add_argument("--p", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--block", type=int, default=1000)
    ap.add_argument("--model")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tinyrnn-soak-"))
    model = Path(args.model) if args.model else make_artifact(work / "model", units=32, n=64, steps=60, seed=3)
    twin = TwinModel.from_artifact_dir(model)
    split = dict(np.load(model / "test_split.npz"))
    x_q = twin.quantize_input(split["x"])
    expected = twin.run(x_q)
    board = load_board("qemu-mps2-an386")
    record = qemu.start(board, build(board, model), run_dir=work)
    started, block_started, mismatched, lat = time.monotonic(), time.monotonic(), 0, []
    try:
        with FaultProxy(record.port, p=args.p, seed=args.seed) as proxy:
            client = connect(proxy.port, expected_hash=twin.model_hash)
            for i in range(args.sequences):
                j = i % len(x_q)
                n = int(split["lengths"][j])
                t0 = time.monotonic()
                result = client.sequence(x_q[j, :n])
                lat.append(time.monotonic() - t0)
                mismatched += int((result.outputs != expected[j, :n]).sum())
                if (i + 1) % args.block == 0:
                    b = np.array(lat[-args.block:]) * 1e3
                    print(f"{i + 1:6d} sequences: {time.monotonic() - block_started:6.1f} s, latency ms p50 "
                          f"{np.percentile(b, 50):.1f} p99 {np.percentile(b, 99):.1f} max {b.max():.1f}; "
                          f"mismatched values so far {mismatched}; "
                          f"rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB",
                          flush=True)
                    block_started = time.monotonic()
            stats = client.board_stats()
            faults = proxy.stats()
            client.transport.close()
    finally:
        qemu.stop(board.name, run_dir=work)
    print(f"done: {args.sequences} sequences in {time.monotonic() - started:.0f} s, {mismatched} mismatched values")
    print(f"link: {client.stats.describe()}")
    print(f"injected: to board {faults['to_board_faults']}, to host {faults['to_host_faults']}")
    print(f"board STATS: {stats.as_dict()}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
