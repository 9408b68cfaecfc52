"""Flashing through a labgrid place, piece by piece (the whole path runs in tests/test_farm_loopback.py): the
exporter file labgrid reads, the OpenOCD commands a real board's place runs, and the emulated board's restart on the
exporter's host, which repoints the exported link at the new QEMU's pty without letting it dangle."""
import os
import shutil
import threading
from pathlib import Path

import pytest

from tinyrnn.host.device import emulated_place, qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.farm import exporter_config

pytestmark = pytest.mark.fast

labgrid = pytest.importorskip("labgrid", reason="labgrid is the farm extra: pip install 'tinyrnn[farm]'")


def test_the_exporter_file_gives_emulated_boards_their_flasher_and_real_boards_their_probe(tmp_path):
    """labgrid's own reader (Jinja, then YAML) sees a TinyrnnEmulator on the exporter's --hostname for the emulated
    board, a udev-matched USBDebugger for the real one, and a serial port for both."""
    from labgrid.remote.config import ResourceConfig
    path = tmp_path / "lab.yaml"
    path.write_text(exporter_config({"qemu-mps2-an386": "/dev/lab-an386", "nucleo-f446re": "/dev/lab-f446"},
                                    run_dir=tmp_path / "run", python="/opt/lab/bin/python",
                                    probes={"nucleo-f446re": {"ID_SERIAL_SHORT": "0671FF48"}}))
    data = ResourceConfig(str(path), {"hostname": "lab1.example", "env": {}, "isolated": False,
                                      "name": "lab1"}).data
    assert data["qemu-mps2-an386"]["TinyrnnEmulator"] == {
        "host": "lab1.example", "board": "qemu-mps2-an386", "link": "/dev/lab-an386",
        "run_dir": str(tmp_path / "run" / "qemu-mps2-an386"), "python": "/opt/lab/bin/python"}
    assert data["nucleo-f446re"]["USBDebugger"] == {"match": {"ID_SERIAL_SHORT": "0671FF48"}}
    assert "TinyrnnEmulator" not in data["nucleo-f446re"] and "USBDebugger" not in data["qemu-mps2-an386"]
    for group in data.values():
        assert group["RawSerialPort"]["speed"] == 115200


def test_a_real_board_is_programmed_with_its_own_openocd_configuration():
    """board.toml's openocd_args become OpenOCD commands before labgrid's program step (its {filename} left for
    OpenOCDDriver.load to fill in)."""
    from tinyrnn.host.device.place_flash import openocd_commands
    commands = openocd_commands(load_board("nrf52840-dk"))
    assert commands == ["source [find interface/jlink.cfg]", "transport select swd", "source [find target/nrf52.cfg]",
                        "init", 'program "{filename}" verify reset', "shutdown"]
    assert [c.format(filename="/x/app.elf") for c in commands][-2] == 'program "/x/app.elf" verify reset'


def test_only_this_machine_is_flashed_without_ssh():
    from tinyrnn.host.device.place_flash import is_this_host
    assert is_this_host("127.0.0.1") and is_this_host("::1") and is_this_host("localhost")
    assert not is_this_host("192.0.2.7") and not is_this_host("lab1.example")


@pytest.mark.emulator
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_a_restart_repoints_the_link_at_the_new_emulator_and_never_lets_it_dangle(tmp_path, monkeypatch):
    from tinyrnn.host.device.firmware import build
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    board = load_board("qemu-mps2-an385")
    elf = build(board)                                  # the bring-up firmware is enough to boot
    link, run_dir = tmp_path / "lab-an385", tmp_path / "run"
    seen, watching = set(), threading.Event()

    def watch():                                        # what the exporter's poll would see, as often as it can
        while not watching.is_set():
            seen.add(os.path.exists(link))

    try:
        first = emulated_place.restart(board.name, elf, link, run_dir)
        assert os.readlink(link) == first.port
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            second = emulated_place.restart(board.name, elf, link, run_dir)
        finally:
            watching.set()
            watcher.join()
        assert os.readlink(link) == second.port != first.port
        assert seen == {True}, "the link dangled during the restart"
        alive = [r.pid for slot in emulated_place.SLOTS for r in qemu.running(run_dir / slot)]
        assert alive == [second.pid], "the replaced emulator is still running"
        third = emulated_place.restart(board.name, elf, link, run_dir)    # back to the first slot
        assert [r.pid for slot in emulated_place.SLOTS for r in qemu.running(run_dir / slot)] == [third.pid]
    finally:
        stopped = emulated_place.stop(board.name, link, run_dir)
    assert stopped and not os.path.lexists(link)
    assert not any(qemu.running(Path(run_dir) / slot) for slot in emulated_place.SLOTS)
