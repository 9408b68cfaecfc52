"""Where the tests find the default model (the artifact `tinyrnn train` writes with its defaults), and what they do
without it.

Tests that need a real trained model run on it, not on a synthetic one: `make test` trains it first and sets
TINYRNN_REQUIRE_DEFAULT_MODEL=1, so that a missing model fails those tests instead of skipping them silently.
Run alone (`pytest tests/test_x.py`), they skip with the command that makes the model.
"""
import os
from pathlib import Path

import pytest

from tinyrnn.host.defaults import DEFAULT_MODEL as _RELATIVE

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path(os.environ.get("TINYRNN_LIB_MODEL") or REPO / _RELATIVE)


def require_default_model(needs: str = "kernel.json") -> Path:
    """The default model's directory; skip (or fail, under `make test`) when its `needs` file is missing."""
    if not (DEFAULT_MODEL / needs).is_file():
        target = DEFAULT_MODEL.relative_to(REPO) if DEFAULT_MODEL.is_relative_to(REPO) else DEFAULT_MODEL
        what = f"no default model at {DEFAULT_MODEL} (make {target}/model.json)"       # the Makefile's target name
        if os.environ.get("TINYRNN_REQUIRE_DEFAULT_MODEL") == "1":
            pytest.fail(what + ": make test trains it before the tests")
        pytest.skip(what)
    return DEFAULT_MODEL
