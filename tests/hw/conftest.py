"""Fixtures for the hardware tests: a board on --port running the model in --model.

    pytest tests/hw --port /dev/pts/3 --model build/basic_motions-gru32 [--baud 115200]

Without --port every test here is skipped (the options are defined in the root tests/conftest.py).
"""

from dataclasses import dataclass
from pathlib import Path

import pytest

from host.harness import DEFAULT_MODEL, connect, load_model, run_test_split


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


@pytest.fixture(scope="session")
def board(request):
    port = request.config.getoption("--port")
    if not port:
        pytest.skip("hardware tests need a board: pass --port (python host/flash.py --board B --model DIR "
                    "prints one, or run python host/hwtest.py for every emulated board)")
    model_dir = Path(request.config.getoption("--model") or DEFAULT_MODEL)
    if not (model_dir / "model.json").is_file():
        pytest.fail(f"--model {model_dir}: no model.json (train one with python host/train.py)")
    twin, manifest, split = load_model(model_dir)
    client = connect(port, request.config.getoption("--baud"))
    yield Board(client, twin, manifest, split, model_dir)
    client.transport.close()


@pytest.fixture(scope="session")
def split_run(board):
    """The whole test split through the board once; several tests read it."""
    return run_test_split(board.client, board.twin, board.split)
