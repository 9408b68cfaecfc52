"""`tinyrnn bench --micropython` records its emulators in a run directory of its own, never the shared one where
`tinyrnn flash` keeps the user's boards (it stopped them before)."""

from types import SimpleNamespace

import pytest

from tinyrnn.host.device import qemu
from tinyrnn.host.device.micropython import bench

pytestmark = pytest.mark.fast


def test_the_bench_never_uses_the_shared_run_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYRNN_RUN_DIR", str(tmp_path / "users-boards"))
    used = []
    monkeypatch.setattr(bench, "micropython_figures", lambda board, model, steps, run_dir=None: used.append(run_dir)
                        or {})
    monkeypatch.setattr(bench, "bare_metal_board", lambda board: SimpleNamespace(name="bare"))
    monkeypatch.setattr(bench, "bare_metal_figure", lambda board, model, run_dir=None: used.append(run_dir)
                        or (1, "c"))
    bench.measure("mpy-board", tmp_path / "model")
    assert len(used) == 2 and used[0] is not None and used[0] == used[1]
    assert str(qemu.run_directory()) not in used and "tinyrnn-bench-" in str(used[0])


def test_each_mpy_board_is_compared_with_the_kits_firmware_on_its_machine():
    """The bare-metal row of `tinyrnn bench --micropython` comes from the kit's firmware board on the same QEMU
    machine; the older natmods measured beside the board's own are those its firmware loads (none on rv32imc)."""
    from tinyrnn.host.device.boards import load_board
    assert bench.bare_metal_board(load_board("mpy-qemu-riscv32-virt")).name == "qemu-riscv32-virt"
    assert bench.bare_metal_board(load_board("mpy-qemu-mps2-an385")).name == "qemu-mps2-an385"
    assert bench.older_natmods("rv32imc") == ()
    assert bench.older_natmods("armv7m") == ("armv6m",)
