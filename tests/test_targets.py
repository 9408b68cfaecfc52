"""Board targets (host/device/target.py): each board's kind chooses its Target once (host/device/targets.py), and
no command asks what kind a board is. Reads the command sources with ast; starts nothing."""
import ast
from pathlib import Path

import pytest

from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.host.device.firmware_targets import EmulatedFirmware, ProbeFirmware
from tinyrnn.host.device.micropython.deploy import MicroPythonOnPort
from tinyrnn.host.device.micropython.qemu_firmware import EmulatedMicroPython
from tinyrnn.host.device.target import Target
from tinyrnn.host.device.targets import IMPLEMENTATIONS, load_target, target_for

pytestmark = pytest.mark.fast

COMMANDS = Path(__file__).resolve().parent.parent / "host" / "commands"
# Attributes that say what kind a board is: only host/device/targets.py may read them to choose. (`args.micropython`
# is `tinyrnn bench --micropython`, an option, not a board.)
KIND_ATTRIBUTES = {"micropython", "emulated"}
KIND_CLASSES = {"Board", "MicroPythonBoard", *(cls.__name__ for cls in IMPLEMENTATIONS.values())}


def kind_questions(source):
    """(line, what) for each place `source` asks a board's kind: a kind attribute, a comparison with a [runner] or
    [runtime] kind (printing it is fine), or isinstance against a board or target class."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in KIND_ATTRIBUTES and \
                not (isinstance(node.value, ast.Name) and node.value.id == "args"):
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Compare) and any(
                isinstance(n, ast.Constant) and n.value == "kind" for n in ast.walk(node)):
            found.append((node.lineno, '== ...["kind"]'))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)} if len(node.args) > 1 else set()
            if names & KIND_CLASSES:
                found.append((node.lineno, "isinstance"))
    return found


def test_no_command_dispatches_on_the_board_kind():
    offenders = [f"{path.name}:{line}: {what}" for path in sorted(COMMANDS.glob("*.py"))
                 for line, what in kind_questions(path.read_text())]
    assert offenders == [], "commands call the board's Target (host/device/targets.py) instead: " + ", ".join(offenders)


@pytest.mark.parametrize("source", [
    "if board.micropython:\n    pass\n",
    "x = mpboard.start(b) if b.emulated else qemu.start(b)\n",
    "ok = b.runtime.get('kind') != 'firmware'\n",
    "if board.runner['kind'] == 'qemu':\n    pass\n",
    "if isinstance(board, MicroPythonBoard):\n    pass\n",
])
def test_the_check_sees_kind_dispatch(source):
    assert kind_questions(source)


def test_each_board_gets_the_target_of_its_kind():
    expected = {"qemu-mps2-an386": EmulatedFirmware, "nucleo-f446re": ProbeFirmware,
                "mpy-qemu-mps2-an386": EmulatedMicroPython, "micropython": MicroPythonOnPort}
    for name, cls in expected.items():
        assert type(load_target(name)) is cls
    for name in board_names():
        target = target_for(load_board(name))
        assert isinstance(target, Target) and target.board.name == name == target.name
        assert target.unattended == load_board(name).emulated      # only emulators run with no one at the board


def test_every_implementation_starts():
    for cls in IMPLEMENTATIONS.values():
        assert cls.start is not Target.start, f"{cls.__name__} does not implement start()"
