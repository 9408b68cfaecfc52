"""The kit over a lab's serial server: ser2net (Debian) in front of an emulated board, reached as
`rfc2217://127.0.0.1:PORT` and `socket://127.0.0.1:PORT` (loopback only). The harness and the hardware suite
pass over both; a server restarted in the middle of a run is reconnected to and the run's verdict stays the
clean, bit-exact one. Needs arm-none-eabi-gcc, qemu-system-arm and ser2net (CI installs them)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from tinyrnn.host.check.harness import evaluate
from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware import build
from tinyrnn.host.link import spec
from tinyrnn.host.link.client import Client
from tinyrnn.host.link.transport import port_options, server_reconnect, url_for_pyserial
from tinyrnn.quantize.reference.synthetic import make_artifact

from tests.serial_server import SerialServer

pytestmark = pytest.mark.emulator

BOARD = "qemu-mps2-an386"
needs_tools = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm") and SerialServer.available()),
    reason="needs arm-none-eabi-gcc, qemu-system-arm and ser2net")


# --- the URL options (no server needed) ------------------------------------------------------------------

def test_rfc2217_ports_are_opened_without_a_write_timeout_and_without_waiting_for_modem_lines():
    assert "write_timeout" not in port_options("rfc2217://lab:7000")
    assert port_options("socket://lab:7000") == {"write_timeout": 5.0}
    assert port_options("/dev/ttyACM0") == {"write_timeout": 5.0, "exclusive": True}
    assert url_for_pyserial("rfc2217://lab:7000") == "rfc2217://lab:7000?ign_set_control"
    assert url_for_pyserial("rfc2217://lab:7000?logging=debug") == "rfc2217://lab:7000?logging=debug&ign_set_control"
    assert url_for_pyserial("socket://lab:7000") == "socket://lab:7000"


def test_only_a_server_url_is_reconnected_to_as_it_is():
    assert server_reconnect("rfc2217://lab:7000")() == "rfc2217://lab:7000"
    assert server_reconnect("socket://lab:7000")() == "socket://lab:7000"
    assert server_reconnect("/dev/ttyACM0") is None and server_reconnect("loop://") is None


# --- an emulated board behind ser2net --------------------------------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("remote") / "model", units=16, n=10, steps=60, seed=5)


@pytest.fixture(scope="module")
def elf(model, tmp_path_factory):
    saved = os.environ.get("BUILD_DIR")
    os.environ["BUILD_DIR"] = str(tmp_path_factory.mktemp("fw"))
    try:
        return build(load_board(BOARD), model)
    finally:
        os.environ.pop("BUILD_DIR") if saved is None else os.environ.__setitem__("BUILD_DIR", saved)


@pytest.fixture
def server(elf, tmp_path):
    """The board in QEMU (its pty), ser2net in front of it; both stopped by pid."""
    record = qemu.start(load_board(BOARD), elf, run_dir=tmp_path)
    try:
        with SerialServer(record.port, tmp_path) as serial_server:
            yield serial_server
    finally:
        qemu.stop(BOARD, run_dir=tmp_path)


@needs_tools
@pytest.mark.parametrize("scheme", ["rfc2217", "socket"])
def test_the_harness_passes_over_a_serial_server(server, model, scheme):
    url = server.rfc2217_url if scheme == "rfc2217" else server.socket_url
    results, *_ = evaluate(url, model, progress=False)
    assert results["stopped"] is None and results["bit_exact"]["mismatched_values"] == 0
    assert results["sequences"] == 10 and results["link"]["reconnects"] == 0


@needs_tools
@pytest.mark.parametrize("scheme", ["rfc2217", "socket"])
def test_a_serial_server_restarted_mid_run_is_reconnected_to(server, model, scheme, monkeypatch):
    """ser2net is stopped and started again (same ports) right after the 5th sequence: the connection is gone,
    the client opens the same URL again, re-runs the sequence, and the verdict is the clean, bit-exact one.
    The restart is done synchronously inside the run, so it does not depend on timing."""
    url = server.rfc2217_url if scheme == "rfc2217" else server.socket_url
    original, count = Client.request, [0]

    def request(self, ftype, payload=b""):
        reply = original(self, ftype, payload)
        if ftype == spec.COMMANDS["SEQUENCE"]:
            count[0] += 1
            if count[0] == 5:
                server.restart()
        return reply
    monkeypatch.setattr(Client, "request", request)
    results, *_ = evaluate(url, model, progress=False)
    assert count[0] >= 10
    assert results["stopped"] is None and results["bit_exact"]["mismatched_values"] == 0
    assert results["sequences"] == 10 and results["link"]["reconnects"] == 1 and results["link"]["reruns"] >= 1


@needs_tools
def test_the_hardware_suite_passes_over_rfc2217(server, model):
    """(Two tests skip for any synthetic artifact: no kernel figures from training, a short test split.)"""
    suite = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "--port",
                            server.rfc2217_url, "--model", str(model), "-q", "-p", "no:cacheprovider",
                            "--import-mode=importlib"], capture_output=True, text=True)
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-2000:]
    assert re.search(r"\b1[0-9] passed", suite.stdout.splitlines()[-1]), suite.stdout[-1000:]
