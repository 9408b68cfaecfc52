"""The one place that reads a board's kind: `target_for(board)` picks its Target implementation (target.py).

    [runtime] firmware (default)   [runner] qemu      EmulatedFirmware     (firmware_targets.py)
                                   [runner] probe     ProbeFirmware        (firmware_targets.py)
    [runtime] micropython          [runner] qemu      EmulatedMicroPython  (micropython/qemu_firmware.py)
                                   [runner] mpremote  MicroPythonOnPort    (micropython/deploy.py)
"""
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.firmware_targets import EmulatedFirmware, ProbeFirmware
from tinyrnn.host.device.micropython.deploy import MicroPythonOnPort
from tinyrnn.host.device.micropython.qemu_firmware import EmulatedMicroPython

# (runtime kind, runner kind) -> implementation; board data validation (boards.py) admits only these pairs.
IMPLEMENTATIONS = {
    ("firmware", "qemu"): EmulatedFirmware,
    ("firmware", "probe"): ProbeFirmware,
    ("micropython", "qemu"): EmulatedMicroPython,
    ("micropython", "mpremote"): MicroPythonOnPort,
}


def target_for(board):
    """The Target for a Board or MicroPythonBoard (chosen once, from its [runtime] and [runner] kinds)."""
    runtime = "micropython" if board.micropython else "firmware"
    return IMPLEMENTATIONS[runtime, board.runner["kind"]](board)


def load_target(name):
    """The Target of a board by name (boards/<name>/board.toml), its data validated."""
    return target_for(load_board(name))
