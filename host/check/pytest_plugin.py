"""The hardware suite's pytest plugin: --port/--model/--baud and the `board` fixtures.

Registered through the `pytest11` entry point, so any project with tinyrnn installed can run the packaged
suite against its own board:

    pytest --pyargs tinyrnn.hwtests --port /dev/ttyACM0 --model build/basic_motions-gru32
    pytest --pyargs tinyrnn.hwtests --place lab1-an386 --coordinator lab:20408 --model ...   (labgrid: the model's
        firmware is built here and flashed through the place)

Without --port (or with an empty one, as an unset CI variable gives) a run of the suite alone is an error, never
a green run that tested nothing; in a larger run (this repository's own `pytest tests`) the hardware tests skip. A
board that does not answer, or runs another model than --model,
ends the session once with one line saying what is wrong and what to do, instead of failing every test.
"""
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinyrnn.host.check.harness import load_model, run_test_split
from tinyrnn.host.defaults import DEFAULT_MODEL
from tinyrnn.host.device.place import load_place_target
from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.host.link.client import connect
from tinyrnn.host.link.transport import DEFAULT_BAUD


def pytest_addoption(parser):
    group = parser.getgroup("tinyrnn", "tinyrnn hardware suite")
    group.addoption("--port", default=None,
                    help="serial port URL of a board running tinyrnn firmware "
                         "(/dev/ttyUSB0, /dev/pts/N, socket://host:port, rfc2217://host:port); required (or "
                         "--place): the suite alone without it is an error")
    group.addoption("--place", default=None,
                    help="a labgrid place instead of --port: acquired for the session (refused in one line while "
                         "someone holds it), the model's firmware flashed through it, its network serial port "
                         "used, released at the end (docs/farm.md)")
    group.addoption("--coordinator", default=None,
                    help="labgrid coordinator HOST:PORT for --place (default $LG_COORDINATOR)")
    group.addoption("--baud", type=int, default=DEFAULT_BAUD, help=f"baud rate for --port (default {DEFAULT_BAUD})")
    group.addoption("--model", default=None,
                    help=f"artifact directory of the model flashed on the board (default: {DEFAULT_MODEL})")


def _suite_dir() -> Path | None:
    spec = importlib.util.find_spec("tinyrnn.hwtests")      # where the installed suite is (tests/hw when editable)
    return Path(spec.origin).resolve().parent if spec and spec.origin else None


def _in_suite(item, suite: Path | None) -> bool:
    return suite is not None and suite in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config, items):
    """The suite alone without a port would skip every test and pass: refuse it. (Beside other tests, as in the
    repository's own run, the hardware tests skip instead.)"""
    if config.getoption("--port") or config.getoption("--place") or not items:
        return
    suite = _suite_dir()
    if not all(_in_suite(item, suite) for item in items):
        return
    raise pytest.UsageError("the hardware suite needs a board: --port is missing or empty (nothing would be "
                            "tested) — pass --port PORT of a board running the model's firmware (tinyrnn flash "
                            "--board B --model DIR prints one) or --place NAME, or run tinyrnn hwtest for the "
                            "emulated boards")


@dataclass
class Board:
    client: object
    twin: object
    manifest: dict
    split: dict
    model_dir: Path

    @property
    def info(self):
        return self.client.info


def _stop(message: str):
    """End the whole session with one line (a wrong or silent board makes every test meaningless)."""
    pytest.exit(" ".join(message.split()), returncode=pytest.ExitCode.USAGE_ERROR)


def _acquire_place(request, name, model_dir):
    """Build the model's firmware for the place's board, acquire the place for this session, flash it there
    (released when the session ends, whatever the tests did; at once if the flash fails); returns its port URL."""
    try:
        target = load_place_target(name, request.config.getoption("--coordinator"))
        image = target.build(model_dir)
        running = target.start(model_dir, image)
    except TinyRNNError as e:
        _stop(e.one_line())
    request.addfinalizer(target.stop)
    return running.port


@pytest.fixture(scope="session")
def board(request):
    port = request.config.getoption("--port")
    place = request.config.getoption("--place")
    model_dir = Path(request.config.getoption("--model") or DEFAULT_MODEL)
    if place:
        port = _acquire_place(request, place, model_dir)
    if not port:
        pytest.skip("hardware tests need a board: pass --port (tinyrnn flash --board B --model DIR prints "
                    "one, or run tinyrnn hwtest for every emulated board)")
    try:
        twin, manifest, split = load_model(model_dir)
        client = connect(port, request.config.getoption("--baud"))
    except TinyRNNError as e:
        _stop(f"{e.one_line()} (--port {port}, --model {model_dir})")
    if client.info.model_hash != twin.model_hash:
        client.transport.close()
        _stop(f"error: the board on {port} runs model {client.info.model_hash or '(none: bring-up firmware)'}, "
              f"but --model {model_dir} is {twin.model_hash} — flash that model "
              f"(tinyrnn flash --board {client.info.board_name} --model {model_dir}) or pass the board's --model")
    yield Board(client, twin, manifest, split, model_dir)
    client.transport.close()


@pytest.fixture(scope="session")
def split_run(board):
    """The whole test split through the board once; several tests read it."""
    return run_test_split(board.client, board.twin, board.split)
