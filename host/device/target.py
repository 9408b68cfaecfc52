"""A board target: what every command does with a board, whatever kind it is.

    build(model)            make what the board runs (an ELF, a MicroPython ROMFS image; cached where it can be)
    start(model, image)     get it running with the model and answering the protocol -> Running (its port)
    stop()                  end what start() began (an emulator; nothing on a real board)
    describe()              the board's data as `tinyrnn boards show` prints it
    unit                    what its latency figures count: "instructions" (QEMU -icount, minstret) or "cycles"

One implementation per kind (host/device/targets.py chooses it once from the board data, `target_for`):
emulated firmware and firmware on a probe (host/device/firmware_targets.py), emulated MicroPython
(host/device/micropython/qemu_firmware.py) and MicroPython on a real port (host/device/micropython/deploy.py).
MicroPython's unix port (`tinyrnn mpserve`), which has no board data, is one too (micropython/unix_port.py).
Commands call these and never ask what kind a board is.
"""
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.host.device import qemu
from tinyrnn.quantize.errors import UserError


@dataclass(frozen=True)
class Running:
    """A started board: the serial port it answers on (None for a probe board: its port is the user's to name),
    the emulator's pid (None on real hardware), and how to stop or reach it, in words."""
    port: str | None
    pid: int | None = None
    note: str = ""

    def summary(self):
        """The line `tinyrnn flash` ends with (None when there is no port to print)."""
        return f"port: {self.port}  ({self.note})" if self.port else None


class Target:
    """The interface; the defaults are those of a board that needs nothing the caller must give."""

    # True if it starts, answers and stops with no person at the board (an emulator here): the hardware suite
    # and the demo run only on such a board.
    unattended = False
    # True if `tinyrnn bench --micropython` can time MicroPython's implementations on it (micropython/bench.py).
    measures_micropython = False

    def __init__(self, board):
        self.board = board

    @property
    def name(self):
        return self.board.name

    @property
    def unit(self):
        """What latency ticks mean on this board ("instructions" or "cycles")."""
        return "instructions"

    def check_options(self, model_dir, port):
        """Refuse, before anything is built, what this kind of board cannot do with these options."""
        if port:
            raise UserError(f"--port is for real MicroPython boards; {self.name} is not one",
                            "drop --port (emulated boards get a pty; probe boards are found by their probe)")

    def choose_probe(self, probe):
        """Flash through the debug probe with this id (`tinyrnn flash --probe`); only probe boards have one."""
        raise UserError(f"--probe is for boards flashed through a debug probe; {self.name} is not one",
                        "drop --probe")

    def start_at_boot(self):
        """Deploy so the board starts the server after a reset (`tinyrnn flash --at-boot`): MicroPython boards."""
        raise UserError(f"--at-boot is for real MicroPython boards (a main.py); {self.name} is not one",
                        "drop --at-boot (C firmware starts its server at every reset)")

    def build(self, model_dir, verbose=False) -> Path | None:
        return None

    def built(self, model_dir) -> Path | None:
        """What build() made before (`tinyrnn flash --no-build`)."""
        return None

    def start(self, model_dir, image=None, run_dir=None, port=None) -> Running:
        raise NotImplementedError

    def stop(self, run_dir=None) -> bool:
        """Stop what start() began; True if something was stopped."""
        return False

    def already_running(self, run_dir=None):
        """The run record of this board's emulator if one is running, else None."""
        return None

    def describe(self) -> list:
        """`tinyrnn boards show`: the board's data, one `key = value` line each."""
        return [f"{key} = {value}" for key, value in self.board.__dict__.items()]


class InQemu:
    """What every target that QEMU runs shares (mixed in before Target): unattended, stopped and found through the
    run directory's QEMU records, and what `tinyrnn flash` says once it runs."""
    unattended = True
    name: str

    def running(self, record: qemu.RunRecord) -> Running:
        return Running(record.port, record.pid, f"QEMU pid {record.pid}; stop with: tinyrnn flash --stop {self.name}")

    def stop(self, run_dir=None):
        return qemu.stop(self.name, run_dir)

    def already_running(self, run_dir=None):
        return next((r for r in qemu.running(run_dir) if r.board == self.name), None)
