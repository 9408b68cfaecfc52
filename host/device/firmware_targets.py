"""The kit's own firmware as a board target: built with `make -C firmware` (host/device/firmware.py), then run
in QEMU behind a pty (host/device/qemu.py) or programmed through a debug probe (host/device/probe.py)."""
from tinyrnn.host.device import firmware, qemu
from tinyrnn.host.device.probe import flash_probe
from tinyrnn.host.device.target import InQemu, Running, Target
from tinyrnn.quantize.errors import BuildFailed


class FirmwareTarget(Target):
    """What both firmware kinds share: the build, and the board data `tinyrnn boards show` prints."""

    @property
    def unit(self):
        return self.board.counter_unit

    def build(self, model_dir, verbose=False):
        return firmware.build(self.board, model_dir, verbose)

    def built(self, model_dir):
        elf = firmware.elf_path(self.name, model_dir)
        if not elf.is_file():
            raise BuildFailed(f"{elf} does not exist", "build it first (drop --no-build)")
        return elf

    def describe(self):
        board = self.board
        lines = [f"{key} = {value}" for key, value in board.__dict__.items() if key != "stack_override"]
        # what the build derives from the data
        return lines + [f"family = {board.family}", f"kernel_path = {board.kernel_path}",
                        f"stack_size = {board.stack_size} ({board.stack_origin})"]


class EmulatedFirmware(InQemu, FirmwareTarget):
    """A firmware board whose [runner] is QEMU: started in the background, recorded in the run directory."""

    def start(self, model_dir, image=None, run_dir=None, port=None):
        return self.running(qemu.start(self.board, image or firmware.elf_path(self.name, model_dir), run_dir=run_dir))


class ProbeFirmware(FirmwareTarget):
    """A real board programmed through its debug probe (pyOCD or OpenOCD); its serial port is the user's to name."""
    probe = None                # the probe's unique id / serial if several are attached (--probe)

    def choose_probe(self, probe):
        self.probe = probe

    def start(self, model_dir, image=None, run_dir=None, port=None):
        flash_probe(self.board, image or firmware.elf_path(self.name, model_dir), self.probe)
        return Running(None)
