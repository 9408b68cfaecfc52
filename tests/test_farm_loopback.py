"""A board farm on loopback, for real: a labgrid coordinator and two exporters on 127.0.0.1 (each exporting two
emulated boards' ptys through ser2net), four places, `tinyrnn hwtest -j 4 --place ...` through the coordinator,
and a second client refused in one line while a place is held. Every place is released at the end.

Emulated boards stand in for a lab's boards: QEMU runs the model's firmware before the exporters start, and each
exporter sees its pty under /dev (labgrid exports serial devices under /dev only), as a udev symlink would be on a
lab host. Needs root (for /dev), labgrid (the `farm` extra), ser2net, arm-none-eabi-gcc and qemu-system-arm."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.farm import exporter_config, place_setup
from tinyrnn.host.device.firmware import build
from tinyrnn.quantize.reference.synthetic import make_artifact

from tests.serial_server import SerialServer, free_port

LABS = {"lab1": ["qemu-mps2-an385", "qemu-mps2-an386"], "lab2": ["qemu-mps2-an500", "qemu-netduinoplus2"]}


def _labgrid():
    try:
        import labgrid  # noqa: F401
        return True
    except ImportError:
        return False


pytestmark = [pytest.mark.emulator, pytest.mark.skipif(
    not (_labgrid() and SerialServer.available() and shutil.which("arm-none-eabi-gcc")
         and shutil.which("qemu-system-arm") and os.access("/dev", os.W_OK)),
    reason="needs labgrid (pip install 'tinyrnn[farm]'), ser2net, arm-none-eabi-gcc, qemu-system-arm, a writable /dev")]


def _client(coordinator, *args, user=None):
    env = dict(os.environ, **({"LG_USERNAME": user} if user else {}))
    return subprocess.run([sys.executable, "-m", "labgrid.remote.client", "-x", coordinator, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _wait_until(condition, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """The model on four emulated boards, a coordinator and two exporters; yields (coordinator, model, places,
    work dir). Everything is stopped by pid and the /dev links removed at the end."""
    work = tmp_path_factory.mktemp("farm")
    model = make_artifact(work / "model", units=16, n=10, steps=60, seed=7)
    os.environ["BUILD_DIR"] = str(work / "fw")        # hwtest's builds then find these (cached)
    processes, links, places = [], [], {}
    try:
        devices = {}
        for lab, boards in LABS.items():
            devices[lab] = {}
            for name in boards:
                board = load_board(name)
                record = qemu.start(board, build(board, model), run_dir=work / "run")
                link = Path(f"/dev/tinyrnn-test-{os.getpid()}-{name}")
                link.unlink(missing_ok=True)
                link.symlink_to(record.port)
                links.append(link)
                devices[lab][name] = str(link)
        coordinator = f"127.0.0.1:{free_port()}"
        env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin")      # the exporters run ser2net
        log = open(work / "labgrid.log", "ab")
        # (the coordinator keeps places.yaml and resources.yaml in its working directory)
        processes.append(subprocess.Popen([sys.executable, "-m", "labgrid.remote.coordinator", "-l", coordinator],
                                          stdout=log, stderr=log, env=env, cwd=work))
        _wait_until(lambda: _listening(int(coordinator.rsplit(":", 1)[1])), "the coordinator")
        for lab, boards in devices.items():
            config = work / f"{lab}.yaml"
            config.write_text(exporter_config(boards))
            processes.append(subprocess.Popen([sys.executable, "-m", "labgrid.remote.exporter", "-c", coordinator,
                                               "-n", lab, "--hostname", "127.0.0.1", str(config)],
                                              stdout=log, stderr=log, env=env))
            for name in boards:
                place = f"{lab}-{name.removeprefix('qemu-')}"
                places[place] = name
                for args in place_setup(place, lab, name):
                    assert _client(coordinator, *args).returncode == 0, args
        _wait_until(lambda: _client(coordinator, "resources").stdout.count("NetworkSerialPort") == 4,
                    "four exported serial ports")
        yield coordinator, model, places, work
    finally:
        for proc in reversed(processes):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for boards in LABS.values():
            for name in boards:
                qemu.stop(name, run_dir=work / "run")
        for link in links:
            link.unlink(missing_ok=True)
        os.environ.pop("BUILD_DIR", None)


def _holder(coordinator, place):
    shown = _client(coordinator, "-p", place, "show").stdout
    return re.search(r"^\s*acquired: (.*)$", shown, re.M).group(1).strip()


def test_a_held_place_is_refused_in_one_line(farm, tmp_path):
    """Someone else holds a place: hwtest fails that board with one line naming the holder (other places would
    still run), the pytest plugin ends the session with that line, and the holder keeps the place."""
    coordinator, model, places, _ = farm
    place = next(iter(places))
    assert _client(coordinator, "-p", place, "acquire", user="someone-else").returncode == 0
    try:
        hwtest = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "--place", place,
                                 "--coordinator", coordinator, "--model", str(model), "--no-harness"],
                                cwd=tmp_path, capture_output=True, text=True)
        suite = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "--place", place,
                                "--coordinator", coordinator, "--model", str(model), "-q", "-p", "no:cacheprovider",
                                "--import-mode=importlib"], cwd=tmp_path, capture_output=True, text=True)
        assert _holder(coordinator, place) == "vm/someone-else" or _holder(coordinator, place).endswith(
            "/someone-else")
    finally:
        _client(coordinator, "-p", place, "release", user="someone-else")
    refusal = f"error: place {place} on {coordinator}: Place {place} is already acquired by "
    assert hwtest.returncode == 1 and "boards: 0 passed, 1 failed" in hwtest.stdout, hwtest.stdout + hwtest.stderr
    said = [line.strip() for line in hwtest.stdout.splitlines() if line.strip().startswith(refusal)]
    assert len(said) == 1 and "someone-else" in said[0], hwtest.stdout
    assert suite.returncode == 4, suite.stdout + suite.stderr      # pytest's usage error: the session ended
    said = [line for line in (suite.stdout + suite.stderr).splitlines() if refusal in line]
    assert len(said) == 1, suite.stdout + suite.stderr
    assert _holder(coordinator, place) == "None"


def test_the_hardware_suite_on_four_places_in_parallel(farm, tmp_path):
    """hwtest -j 4 through the coordinator: each place acquired (its log names the place and its rfc2217 port),
    every board's suite passes, and every place is released afterwards."""
    coordinator, model, places, _ = farm
    cmd = [sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "-j", "4", "--coordinator", coordinator,
           "--model", str(model), "--no-harness"]       # (the harness over a remote port: test_remote_ports.py)
    for place in places:
        cmd += ["--place", place]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "boards: 4 passed, 0 failed" in done.stdout
    for place, board in places.items():
        log = (tmp_path / "build" / "hwtest-logs" / f"{board}.log").read_text()
        assert re.search(rf"\[hwtest\] {board}: rfc2217://127\.0\.0\.1:\d+ \(labgrid place {place} on ", log), log
        assert re.search(r"\b1\d passed", log), log
        assert _holder(coordinator, place) == "None"
