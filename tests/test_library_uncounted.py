"""`export --lib` on the base install (no unicorn) says why the README lacks the Cortex-M speed rows."""

import importlib.util

import pytest

from tinyrnn.host.device import library_counts

pytestmark = pytest.mark.fast


def test_without_unicorn_the_missing_rows_say_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "unicorn" else real(name, *a))
    reasons = library_counts.uncounted({"rv32imc": 1000})
    assert reasons and reasons[0].startswith("Cortex-M0/M4: not counted") and "tinyrnn[bench]" in reasons[0]


def test_nothing_to_say_when_every_core_was_counted():
    assert library_counts.uncounted({"m0": 1, "m4": 2, "rv32imc": 3}) == []
