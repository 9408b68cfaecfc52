"""An emulated board at a labgrid place, on the exporter's host: (re)start its QEMU with a firmware, keeping the
serial device the exporter publishes.

The exporter exports the board's serial port as a RawSerialPort at a fixed path under /dev (a symlink, as udev
makes for a USB adapter), and ser2net opens that path for each client connection. QEMU gives every start a new
pty, so a restart points the link at the new pty: the new QEMU is started first, the link replaced in one rename,
then the old QEMU stopped. The link never dangles, so the exporter never sees the port vanish (it would restart
ser2net on another TCP port).

The two emulators of a restart live in two run directories under `run_dir` (`a/`, `b/`), so host/device/qemu.py
records and stops each by pid:

    python -m tinyrnn.host.device.emulated_place --board qemu-mps2-an386 --elf FW.elf --link /dev/lab-an386 \
        --run-dir /var/lib/tinyrnn/lab
    python -m tinyrnn.host.device.emulated_place --board qemu-mps2-an386 --stop --link ... --run-dir ...

This is what the place's flasher runs on the exporter's host (host/device/place_flash.py); it prints one JSON
line, {"pid", "port"}.
"""
import argparse
import json
import os
import sys
from pathlib import Path

from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import load_board
from tinyrnn.quantize.errors import TinyRNNError

SLOTS = ("a", "b")


def _slot_running(board_name, link: Path, run_dir: Path):
    """The slot whose emulator the link points at now (None if none does)."""
    try:
        current = os.readlink(link)
    except OSError:
        return None
    for slot in SLOTS:
        if any(r.board == board_name and r.port == current for r in qemu.running(run_dir / slot)):
            return slot
    return None


def _point(link: Path, target: str):
    """Make `link` a symlink to `target` in one step (rename over the old link)."""
    fresh = link.with_name(f".{link.name}.new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    os.replace(fresh, link)


def restart(board_name, elf, link, run_dir):
    """Start `elf` on the emulated board, point `link` at its pty, stop the emulator it replaced; its RunRecord."""
    board = load_board(board_name)
    link, run_dir = Path(link), Path(run_dir)
    if link.exists() and not link.is_symlink():
        raise TinyRNNError(f"{link} exists and is not a symlink: not replacing it")
    old = _slot_running(board.name, link, run_dir)
    new = SLOTS[1] if old == SLOTS[0] else SLOTS[0]
    record = qemu.start(board, elf, run_dir=run_dir / new)     # (stops what an earlier restart left in that slot)
    _point(link, record.port)
    for slot in SLOTS:
        if slot != new:
            qemu.stop(board.name, run_dir / slot)
    return record


def stop(board_name, link, run_dir):
    """Stop the board's emulators and remove the link; True if an emulator was stopped."""
    stopped = [qemu.stop(board_name, Path(run_dir) / slot) for slot in SLOTS]
    Path(link).unlink(missing_ok=True)
    return any(stopped)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tinyrnn.host.device.emulated_place", description=__doc__.split("\n")[0])
    p.add_argument("--board", required=True, help="the emulated board (tinyrnn boards list)")
    p.add_argument("--link", required=True, type=Path, help="the serial device the exporter exports (a symlink)")
    p.add_argument("--run-dir", required=True, type=Path, help="where the emulators' run records go")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--elf", type=Path, help="the firmware to start")
    action.add_argument("--stop", action="store_true", help="stop the board's emulator and remove the link")
    args = p.parse_args(argv)
    try:
        if args.stop:
            print(json.dumps({"stopped": stop(args.board, args.link, args.run_dir)}))
        else:
            record = restart(args.board, args.elf, args.link, args.run_dir)
            print(json.dumps({"pid": record.pid, "port": record.port}))
    except TinyRNNError as e:
        print(e.one_line(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
