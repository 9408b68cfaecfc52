"""Flashing the board at a labgrid place, with labgrid's own resource/driver machinery (labgrid 26).

The place's resources (from its exporter, through the coordinator) say how its board is flashed:

    TinyrnnEmulator      an emulated board: EmulatorFlashDriver below runs host/device/emulated_place.py on the
                         exporter's host, which restarts the board's QEMU with the firmware behind the same
                         exported serial device. A resource of this kit, registered with labgrid here; the exporter
                         publishes it as it is (an unknown class is exported with its parameters, host included).
    NetworkUSBDebugger   a real board's debug probe (a USBDebugger matched by udev on the exporter): labgrid's
                         OpenOCDDriver programs the firmware with the board's OpenOCD configuration (board.toml
                         [runner] openocd_args), running openocd on the exporter's host.
    neither              nothing to flash with: the board must already run the model (the suite checks it).

How the firmware reaches the exporter: on a lab host, labgrid's ManagedFile copies it over SSH into the
exporter's cache (or finds it there on a shared NFS path) and the command runs over SSH (the resource's
command_prefix), as for any labgrid driver; the lab needs SSH from the client to each exporter host (keys, no
password). When the exporter's host is this machine (loopback), the firmware is used where it is and the command
runs here: no SSH.

Runs in a child process (`python -m tinyrnn.host.device.place_flash PLACE COORDINATOR BOARD ELF`, see place.py):
labgrid's client session is bound to one asyncio loop. Its last stdout line is JSON: {"how": ...} when done,
{"refused": what, "fix": ...} for what the user must fix (no probe attached), {"failed": what, "fix": ...} when
the flashing tool failed.
"""
import ipaddress
import json
import os
import socket
import subprocess
import sys

import attr
from labgrid import Target
from labgrid.driver.common import Driver
from labgrid.driver.exception import ExecutionError
from labgrid.driver.openocddriver import OpenOCDDriver
from labgrid.factory import target_factory
from labgrid.resource.common import NetworkResource
from labgrid.util.helper import processwrapper
from labgrid.util.managedfile import ManagedFile

from tinyrnn.host.device.boards import load_board

EMULATOR = "TinyrnnEmulator"
DEBUGGER = "NetworkUSBDebugger"


@target_factory.reg_resource
@attr.s(eq=False)
class TinyrnnEmulator(NetworkResource):
    """An emulated board on the exporter's host: which board, the serial device its exporter exports (a symlink
    repointed at each restart), where its run records go, and the Python that has tinyrnn there."""
    board = attr.ib(validator=attr.validators.instance_of(str))
    link = attr.ib(validator=attr.validators.instance_of(str))
    run_dir = attr.ib(validator=attr.validators.instance_of(str))
    python = attr.ib(default="python3", validator=attr.validators.instance_of(str))


def is_this_host(host):
    """True if `host` names this machine (a loopback address, or its own name)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", socket.gethostname(), socket.getfqdn())


@target_factory.reg_driver
@attr.s(eq=False)
class EmulatorFlashDriver(Driver):
    """Restarts a TinyrnnEmulator's QEMU with a firmware, on the exporter's host."""
    bindings = {"emulator": EMULATOR}

    @Driver.check_active
    def load(self, filename):
        emulator = self.emulator
        if is_this_host(emulator.host):
            remote_elf, wrap = os.path.realpath(filename), (lambda cmd: cmd)
        else:
            managed = ManagedFile(filename, emulator)
            managed.sync_to_resource()
            remote_elf, wrap = managed.get_remote_path(), emulator.wrap_command
        cmd = [emulator.python, "-m", "tinyrnn.host.device.emulated_place", "--board", emulator.board,
               "--link", emulator.link, "--run-dir", emulator.run_dir, "--elf", remote_elf]
        output = processwrapper.check_output(wrap(cmd))
        return json.loads(output.strip().splitlines()[-1])


def openocd_commands(board):
    """board.toml's `openocd_args` (-f FILE, -c COMMAND) as OpenOCD commands, then program-verify-reset with
    labgrid's {filename} (OpenOCDDriver.load_commands)."""
    args, commands = list(board.runner["openocd_args"]), []
    while args:
        flag, value = args.pop(0), args.pop(0)
        commands.append(f"source [find {value}]" if flag == "-f" else value)
    return [*commands, "init", 'program "{filename}" verify reset', "shutdown"]


def _remote_place(place, coordinator):
    os.environ["LG_COORDINATOR"] = coordinator      # what labgrid's RemotePlace reads without an environment file
    target = Target(place)
    target_factory.make_resource(target, "RemotePlace", place, {})
    return target


def flash(place, coordinator, board_name, elf):
    """Flash `elf` onto the board at `place` (held by us); the JSON-able result described above."""
    target = _remote_place(place, coordinator)
    found = {r.__class__.__name__: r for r in target.resources}
    if EMULATOR in found:
        emulator = found[EMULATOR]
        if emulator.board != board_name:
            return {"refused": f"place {place} exports the emulated board {emulator.board}, but its board= tag "
                               f"says {board_name}", "fix": "make the place's board= tag name the exported board"}
        driver = EmulatorFlashDriver(target, None)
        target.activate(driver)
        started = driver.load(elf)
        return {"how": f"flashed {elf} through labgrid ({EMULATOR} on {emulator.host}: QEMU "
                       f"pid {started['pid']})"}
    if DEBUGGER in found:
        probe = found[DEBUGGER]
        if not probe.avail:
            return {"refused": f"place {place}: no debug probe is attached on its lab host {probe.host} "
                               f"(its USBDebugger matches no USB device)",
                    "fix": "plug the board's probe into the lab host, or fix the exporter's udev match "
                           "(docs/farm.md: your lab)"}
        driver = OpenOCDDriver(target, None, load_commands=openocd_commands(load_board(board_name)))
        target.activate(driver)
        driver.load(elf)
        return {"how": f"flashed {elf} through labgrid (OpenOCD on {probe.host})"}
    return {"how": "not flashed: the place has no TinyrnnEmulator or USBDebugger (its board must already run the "
                   "model)"}


def main(place, coordinator, board_name, elf):
    try:
        result = flash(place, coordinator, board_name, elf)
    except (ExecutionError, subprocess.CalledProcessError) as e:
        said = getattr(e, "output", None) or getattr(e, "msg", "") or str(e)
        said = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        result = {"failed": f"flashing place {place} failed: {(lines or ['(no output)'])[-1]}",
                  "fix": "see the flashing tool's output above; the place is released"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
