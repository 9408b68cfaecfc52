"""A board farm on loopback, for real: a labgrid coordinator and two exporters on 127.0.0.1 (each exporting two
emulated boards' ptys through ser2net, and how to restart their QEMU), four places, `tinyrnn hwtest -j 4 --place
...` through the coordinator flashing the model through each place, the pytest plugin's --place flashing too, a
second client refused in one line while a place is held, and a real board's place whose debug probe is not
attached refused in one line. Every place is released at the end.

Emulated boards stand in for a lab's boards: before the exporters start, QEMU runs ANOTHER model's firmware (what
the boards ran before), so the suite passes only if the model was flashed through the place. Each exporter sees
its board's pty under /dev (labgrid exports serial devices under /dev only) as a symlink, as udev makes on a lab
host; a restart repoints it (host/device/emulated_place.py). The firmware reaches the "exporter's host" through the
shared filesystem (it is this machine): labgrid's SSH copy (ManagedFile) is not exercised. Needs root (for /dev),
labgrid (the `farm` extra), ser2net, arm-none-eabi-gcc and qemu-system-arm."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyrnn.host.device import emulated_place, qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.farm import exporter_config, place_setup
from tinyrnn.host.device.firmware import build, elf_path
from tinyrnn.quantize.reference.synthetic import make_artifact

from tests.serial_server import SerialServer, free_port

LABS = {"lab1": ["qemu-mps2-an385", "qemu-mps2-an386"], "lab2": ["qemu-mps2-an500", "qemu-netduinoplus2"]}
# A real board on lab2 whose debug probe is not plugged in: its USBDebugger's udev match finds no device.
PROBE_BOARD, PROBE_PLACE = "nucleo-f446re", "lab2-f446re"


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
    """Four emulated boards running an old model, a coordinator and two exporters (lab2 also exports a real board
    with no probe attached); yields (coordinator, model, old model, places, work dir). Everything is stopped by pid
    and the /dev links removed at the end."""
    work = tmp_path_factory.mktemp("farm")
    model = make_artifact(work / "model", units=16, n=10, steps=60, seed=7)
    old_model = make_artifact(work / "old-model", units=16, n=10, steps=60, seed=8)
    os.environ["BUILD_DIR"] = str(work / "fw")        # hwtest's builds then find these (cached)
    lab_run = work / "lab-run"
    processes, links, places = [], [], {}
    probe_uart_master, probe_uart = os.openpty()     # the real board's USB UART: present, unlike its probe
    try:
        devices = {}
        for lab, boards in LABS.items():
            devices[lab] = {}
            for name in boards:
                board = load_board(name)
                build(board, model)                   # (cached for hwtest; the boards run the old model)
                link = Path(f"/dev/tinyrnn-test-{os.getpid()}-{name}")
                links.append(link)
                emulated_place.restart(name, build(board, old_model), link, lab_run / name)
                devices[lab][name] = str(link)
        uart_link = Path(f"/dev/tinyrnn-test-{os.getpid()}-{PROBE_BOARD}")
        uart_link.unlink(missing_ok=True)
        uart_link.symlink_to(os.ttyname(probe_uart))
        links.append(uart_link)
        devices["lab2"][PROBE_BOARD] = str(uart_link)
        coordinator = f"127.0.0.1:{free_port()}"
        env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin")      # the exporters run ser2net
        log = open(work / "labgrid.log", "ab")
        # (the coordinator keeps places.yaml and resources.yaml in its working directory)
        processes.append(subprocess.Popen([sys.executable, "-m", "labgrid.remote.coordinator", "-l", coordinator],
                                          stdout=log, stderr=log, env=env, cwd=work))
        _wait_until(lambda: _listening(int(coordinator.rsplit(":", 1)[1])), "the coordinator")
        for lab, boards in devices.items():
            config = work / f"{lab}.yaml"
            probes = {PROBE_BOARD: {"ID_SERIAL_SHORT": "tinyrnn-test-no-such-probe"}} if lab == "lab2" else {}
            config.write_text(exporter_config(boards, run_dir=lab_run, probes=probes))
            processes.append(subprocess.Popen([sys.executable, "-m", "labgrid.remote.exporter", "-c", coordinator,
                                               "-n", lab, "--hostname", "127.0.0.1", str(config)],
                                              stdout=log, stderr=log, env=env))
            for name in boards:
                place = PROBE_PLACE if name == PROBE_BOARD else f"{lab}-{name.removeprefix('qemu-')}"
                if name != PROBE_BOARD:
                    places[place] = name
                for args in place_setup(place, lab, name):
                    assert _client(coordinator, *args).returncode == 0, args
        _wait_until(lambda: _client(coordinator, "resources").stdout.count("NetworkSerialPort") == 5,
                    "five exported serial ports")
        yield coordinator, model, old_model, places, work
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
                emulated_place.stop(name, Path(f"/dev/tinyrnn-test-{os.getpid()}-{name}"), lab_run / name)
        for link in links:
            link.unlink(missing_ok=True)
        os.close(probe_uart)
        os.close(probe_uart_master)
        os.environ.pop("BUILD_DIR", None)


def _holder(coordinator, place):
    shown = _client(coordinator, "-p", place, "show").stdout
    return re.search(r"^\s*acquired: (.*)$", shown, re.M).group(1).strip()


def test_a_held_place_is_refused_in_one_line(farm, tmp_path):
    """Someone else holds a place: hwtest fails that board with one line naming the holder (other places would
    still run), the pytest plugin ends the session with that line, and the holder keeps the place."""
    coordinator, model, _, places, _ = farm
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


def _failed_logs(summary, work):
    """The end of each failed board's hwtest log (pytest's temporary folders do not outlive a few more runs: the
    failure's cause must be in the failure's message)."""
    failed = re.findall(r"^\[hwtest\] (\S+): .*FAILED", summary, re.M)
    return "".join(f"\n--- {board} log (end) ---\n" +
                   (work / "build" / "hwtest-logs" / f"{board}.log").read_text(errors="replace")[-3000:]
                   for board in failed if (work / "build" / "hwtest-logs" / f"{board}.log").is_file())


def test_the_hardware_suite_on_four_places_in_parallel(farm, tmp_path):
    """hwtest -j 4 through the coordinator: each place acquired (its log names the place and its rfc2217 port),
    the model flashed through it (the boards ran another model), every board's suite passes, and every place is
    released afterwards."""
    coordinator, model, _, places, _ = farm
    cmd = [sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "-j", "4", "--coordinator", coordinator,
           "--model", str(model), "--no-harness"]       # (the harness over a remote port: test_remote_ports.py)
    for place in places:
        cmd += ["--place", place]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:] + _failed_logs(done.stdout, tmp_path)
    assert "boards: 4 passed, 0 failed" in done.stdout
    for place, board in places.items():
        log = (tmp_path / "build" / "hwtest-logs" / f"{board}.log").read_text()
        assert re.search(rf"\[hwtest\] {board}: rfc2217://127\.0\.0\.1:\d+ \(labgrid place {place} on "
                         rf"{coordinator}; flashed \S+/app\.elf through labgrid \(TinyrnnEmulator on 127\.0\.0\.1: "
                         r"QEMU pid \d+\)\)", log), log
        assert re.search(r"\b[12]\d passed", log), log
        assert _holder(coordinator, place) == "None"


def _emulators(work, board):
    """The run records of the emulators of `board` on the loopback exporter's host (emulated_place's slots)."""
    return [r for slot in emulated_place.SLOTS for r in qemu.running(work / "lab-run" / board / slot)]


def test_the_pytest_plugin_flashes_through_a_place(farm, tmp_path):
    """pytest --pyargs tinyrnn.hwtests --place P: the plugin builds the model's firmware, acquires P, flashes it
    there (a new QEMU runs that ELF, the one before is gone) and runs the suite; the place is released."""
    coordinator, _, old_model, places, work = farm
    place, board = list(places.items())[-1]
    before = _emulators(work, board)
    suite = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "--place", place,
                            "--coordinator", coordinator, "--model", str(old_model), "-q", "-p", "no:cacheprovider",
                            "--import-mode=importlib", "-k", "handshake_reports_board_and_model"],
                           cwd=tmp_path, capture_output=True, text=True)      # (the board names the model it runs)
    assert suite.returncode == 0 and re.search(r"\b1 passed", suite.stdout), suite.stdout[-3000:] + suite.stderr
    after = _emulators(work, board)
    assert len(before) == len(after) == 1 and after[0].pid != before[0].pid
    assert Path(after[0].elf).resolve() == elf_path(board, old_model).resolve()
    assert _holder(coordinator, place) == "None"


def test_a_real_board_without_its_probe_is_refused_in_one_line(farm, tmp_path):
    """A real board's place (its exporter exports a USBDebugger that no USB device matches): hwtest builds its
    firmware, acquires the place, and labgrid's flasher refuses in one line naming the lab host; the place is
    released."""
    coordinator, model, _, _, _ = farm
    done = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "--place", PROBE_PLACE,
                           "--coordinator", coordinator, "--model", str(model), "--no-harness"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "boards: 0 passed, 1 failed" in done.stdout, done.stdout + done.stderr
    said = [line.strip() for line in done.stdout.splitlines()
            if line.strip().startswith(f"error: place {PROBE_PLACE}: no debug probe is attached on its lab host "
                                       "127.0.0.1")]
    assert len(said) == 1, done.stdout
    assert _holder(coordinator, PROBE_PLACE) == "None"
