"""A board in a lab, reached through a labgrid place (labgrid 26: `pip install 'tinyrnn[farm]'`).

A lab runs a labgrid coordinator and an exporter on each lab host; the exporter publishes each board's serial
port as a NetworkSerialPort (it runs ser2net in front of the tty), and the place names the board it holds with a
tag, `board=<tinyrnn board name>` (docs/farm.md). `PlaceTarget` wraps that board's own Target:

    build(model)    the board's own build, on this machine
    start(model, image)
                    acquire the place (refused in one line while someone else holds it), flash the image through
                    the place (host/device/place_flash.py: an emulated board's QEMU restarted on the exporter's
                    host, a real board through labgrid's OpenOCDDriver), look up its port
                    -> Running("rfc2217://exporter-host:port"); released again if any of that fails
    stop()          release the place (hwtest and the pytest plugin call it whatever the tests did)

A place with nothing to flash with keeps the firmware it has (the hardware suite refuses another model in one line,
naming it). See docs/farm.md for what is untested on real lab hardware.

labgrid is imported only here and only when a place is used; acquire/release go through `labgrid-client` (its
messages are the ones lab users know), the port and tags through labgrid's RemotePlace resource.
"""
import json
import os
import re
import subprocess
import sys

from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware_targets import FirmwareTarget
from tinyrnn.host.device.target import Running, Target
from tinyrnn.host.device.targets import target_for
from tinyrnn.quantize.errors import FlashFailed, ToolMissing, UserError

DEFAULT_COORDINATOR = "127.0.0.1:20408"      # labgrid's default port
BOARD_TAG = "board"
LOOKUP_REFUSED = 3                           # lookup_main's exit status when labgrid refused (its message on stdout)


def coordinator_address(given=None):
    """--coordinator, else $LG_COORDINATOR (labgrid's own variable), else labgrid's default on this machine."""
    return given or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


def _require_labgrid():
    try:
        import labgrid  # noqa: F401
    except ImportError:
        raise ToolMissing("labgrid is not installed: pip install 'tinyrnn[farm]'") from None


class Place:
    """One labgrid place on one coordinator: acquire, release, its board and serial port."""

    def __init__(self, name, coordinator=None):
        self.name = name
        self.coordinator = coordinator_address(coordinator)

    def _client(self, *command):
        _require_labgrid()
        return subprocess.run([sys.executable, "-m", "labgrid.remote.client", "-x", self.coordinator,
                               "-p", self.name, *command], capture_output=True, text=True, timeout=120)

    def acquire(self):
        done = self._client("acquire")
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            said = re.sub(r"^[\w.-]+: (Error: )?", "", said)        # labgrid's "prog: Error: " prefix
            raise UserError(f"place {self.name} on {self.coordinator}: {said}",
                            "wait for its holder to release it, or pick another place (labgrid-client places)")

    def release(self):
        """True if released (False if it was not ours to release: nothing to undo)."""
        return self._client("release").returncode == 0

    def _remote(self):
        """labgrid's view of the place: {"tags": {...}, "port": {"host", "port", "protocol"} or None (the port is
        known once we hold the place)}. Asked in a child process (lookup_main below): labgrid's client session is
        bound to one asyncio loop, and hwtest -j asks from several threads."""
        _require_labgrid()
        done = subprocess.run([sys.executable, "-m", "tinyrnn.host.device.place", self.name, self.coordinator],
                              capture_output=True, text=True, timeout=120)
        if done.returncode == LOOKUP_REFUSED:
            raise UserError(f"place {self.name} on {self.coordinator}: {done.stdout.strip()}",
                            "check the name (labgrid-client places) and the coordinator address")
        if done.returncode != 0:
            raise ToolMissing(f"labgrid could not look up place {self.name} on {self.coordinator}: "
                              f"{(done.stderr.strip().splitlines() or ['(no message)'])[-1]}")
        return json.loads(done.stdout)

    def flash(self, board_name, elf):
        """Flash `elf` onto the place's board (we hold the place); says how, in words. Refusals (no probe attached)
        are UserError, a flashing tool's failure FlashFailed, each one line."""
        _require_labgrid()
        done = subprocess.run([sys.executable, "-m", "tinyrnn.host.device.place_flash", self.name, self.coordinator,
                               board_name, str(elf)], capture_output=True, text=True, timeout=300)
        said = done.stdout.strip().splitlines()
        if done.returncode != 0 or not said:
            raise ToolMissing(f"labgrid could not flash place {self.name} on {self.coordinator}: "
                              f"{(done.stderr.strip().splitlines() or ['(no message)'])[-1]}")
        result = json.loads(said[-1])
        if "refused" in result:
            raise UserError(result["refused"], result["fix"])
        if "failed" in result:
            raise FlashFailed(result["failed"], result["fix"])
        return result["how"]

    def board_name(self):
        tags = self._remote()["tags"]
        if BOARD_TAG not in tags:
            raise UserError(f"place {self.name} has no {BOARD_TAG}= tag naming its tinyrnn board",
                            f"labgrid-client -p {self.name} set-tags {BOARD_TAG}=<board> (tinyrnn boards list)")
        return tags[BOARD_TAG]

    def serial_url(self):
        port = self._remote()["port"]
        if port is None:
            raise UserError(f"place {self.name} has no serial port (NetworkSerialPort)",
                            "export the board's tty from its lab host (docs/farm.md)")
        return f"{port['protocol']}://{port['host']}:{port['port']}"


class PlaceTarget(Target):
    """The board at a labgrid place, wrapping the board's own Target (builds stay that Target's)."""
    unattended = True

    def __init__(self, place: Place, board_target: Target):
        super().__init__(board_target.board)
        self.place = place
        self.board_target = board_target

    @property
    def unit(self):
        return self.board_target.unit

    def build(self, model_dir, verbose=False):
        return self.board_target.build(model_dir, verbose)

    def built(self, model_dir):
        return self.board_target.built(model_dir)

    def start(self, model_dir, image=None, run_dir=None, port=None):
        """Acquire, flash `image` (the board Target's build; None: keep what the board runs), look up the port."""
        if image is not None and not isinstance(self.board_target, FirmwareTarget):
            raise UserError(f"place {self.place.name}: flashing {self.name} (MicroPython) through a place is not "
                            "supported", "deploy the model on the board yourself and run the suite with --port")
        self.place.acquire()
        try:
            how = self.place.flash(self.name, image) if image is not None else "not flashed"
            url = self.place.serial_url()
        except BaseException:
            self.place.release()
            raise
        return Running(url, None, f"labgrid place {self.place.name} on {self.place.coordinator}; {how}")

    def stop(self, run_dir=None):
        return self.place.release()

    def describe(self):
        return [f"place = {self.place.name}", f"coordinator = {self.place.coordinator}",
                *self.board_target.describe()]


def load_place_target(name, coordinator=None):
    """The Target of the board at labgrid place `name` (its board= tag names the board data)."""
    place = Place(name, coordinator)
    return PlaceTarget(place, target_for(load_board(place.board_name())))


def lookup_main(name, coordinator):
    """`python -m tinyrnn.host.device.place NAME HOST:PORT`: the place's tags and, if this host and user hold it,
    its NetworkSerialPort, as JSON on stdout. A refusal from labgrid (no such place...) exits LOOKUP_REFUSED."""
    from labgrid.remote.client import Error as LabgridError, start_session
    session = start_session(coordinator)
    try:
        place = session.get_place(name)
        port = None
        mine = f"{session.gethostname()}/{session.getuser()}"
        if place.acquired == mine or mine in place.allowed:
            for resource in session.get_target_resources(place).values():
                if resource.cls == "NetworkSerialPort":
                    params = resource.params
                    port = {"host": params["host"], "port": params["port"],
                            "protocol": params.get("protocol") or "rfc2217"}
    except LabgridError as e:
        print(str(e).removeprefix("Error: "))
        return LOOKUP_REFUSED
    print(json.dumps({"tags": dict(place.tags), "port": port}))
    return 0


if __name__ == "__main__":
    sys.exit(lookup_main(*sys.argv[1:3]))
