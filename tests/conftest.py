"""Test tiers, and the rule that keeps every test in one.

Each test file says its tier (`pytestmark = pytest.mark.<tier>`); a test that needs more than its file's tier says
its own (the marker closest to the test wins). `pytest --tier fast` (`make test-fast`) runs one tier; a test with no
tier stops the collection. The hardware suite (tests/hw) is the `board` tier: it needs a board (`--port`, or
`tinyrnn hwtest`). The hardware suite's options (--port, --model, --baud) come from the tinyrnn pytest plugin
(host/check/pytest_plugin.py), which the installed package registers.
"""
from pathlib import Path

import pytest

TIERS = {
    "fast": "pure Python and numpy: no compiler, emulator, MicroPython or TensorFlow (make test-fast, seconds)",
    "toolchain": "compiles C (host gcc, the cross compilers, clang, cmake) and runs it on the host or in unicorn",
    "emulator": "starts QEMU, MicroPython or a browser: boards over a real pty, the wheel in a fresh venv",
    "tensorflow": "imports TensorFlow/Keras: trains, converts, or runs the float model",
    "board": "the hardware suite (tests/hw): needs a board, --port or tinyrnn hwtest",
}
HARDWARE_SUITE = Path(__file__).resolve().parent / "hw"


def pytest_addoption(parser):
    parser.addoption("--tier", action="append", choices=sorted(TIERS), default=None,
                     help="run only the tests of this tier (repeatable): " + "; ".join(
                         f"{name}: {what}" for name, what in TIERS.items()))


def pytest_configure(config):
    for name, what in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {what}")


def tier_of(item):
    """The tier marker closest to the test (its own, then its class's, then its file's)."""
    return next((mark.name for mark in item.iter_markers() if mark.name in TIERS), None)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HARDWARE_SUITE in Path(item.path).parents:
            item.add_marker("board")
    untiered = [item.nodeid for item in items if tier_of(item) is None]
    if untiered:
        raise pytest.UsageError(f"tests without a tier ({', '.join(TIERS)}): {', '.join(untiered[:5])}"
                                f"{' ...' if len(untiered) > 5 else ''} — add `pytestmark = pytest.mark.<tier>` "
                                "to the file (tests/conftest.py says what each tier means)")
    wanted = config.getoption("--tier")
    if wanted:
        keep = [item for item in items if tier_of(item) in wanted]
        config.hook.pytest_deselected(items=[item for item in items if tier_of(item) not in wanted])
        items[:] = keep
    items.sort(key=_longest_files_first)


# The files that take longest (`make test` lists the slowest tests), run first: `make test` gives whole files to two
# workers (pytest-xdist --dist loadfile --no-loadscope-reorder: in this order, not by number of tests), and a long
# file handed out last would run alone at the end.
LONGEST_FILES = ("test_import.py", "test_search.py", "test_farm_loopback.py", "test_train.py", "test_package.py",
                 "test_mpdeploy.py", "test_link_faults.py", "test_report_html.py")


def _longest_files_first(item):
    """A sort key: the LONGEST_FILES in that order, then every other file in collection order (the sort is
    stable)."""
    name = Path(item.path).name
    return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)


# Tests that skip for want of a MicroPython source tree say why one by one, lost among other skips in a whole run:
# say once, at the end, what was skipped and how to enable it.
MICROPYTHON_SOURCE_HINT = "MICROPY_DIR"


def pytest_terminal_summary(terminalreporter):
    files = sorted({report.nodeid.split("::")[0] for report in terminalreporter.stats.get("skipped", [])
                    if MICROPYTHON_SOURCE_HINT in str(report.longrepr)})
    if files:
        terminalreporter.write_line(
            "note: tests that build MicroPython were skipped (no usable MicroPython v1.28.0 source) in "
            f"{', '.join(files)} — set MICROPY_DIR to a MicroPython v1.28.0 checkout (or keep "
            "../shared/vendor/micropython-1.28.0-min.tar.gz beside this clone) to run them", yellow=True)
