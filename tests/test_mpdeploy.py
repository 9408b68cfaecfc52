"""Deploying to real MicroPython boards (host/device/micropython/deploy.py, `tinyrnn flash --board micropython
--port P`).

No MicroPython hardware is here. What runs for real: the choice of natmod from sys.implementation._mpy (pure
functions), and, against MicroPython's firmware in QEMU (mpy-qemu-mps2-an386-cmodule's, with tinyrnn_c compiled in,
and mpy-qemu-riscv32-virt's, which gets the rv32imc natmod as an ESP32-C3 would), the mpremote probe,
the staging, the server started over the raw REPL and a bit-exact STEP through the protocol. The one step that
cannot run here is `mpremote cp` (the qemu port has no writable filesystem): the test checks its command line
and has the same files ready in a ROMFS image QEMU loaded, mounted when the copy would have happened.
"""
import contextlib
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from tinyrnn.host.device import qemu
from tinyrnn.host.device.micropython import builds, deploy, qemu_firmware, raw_repl, staging
from tinyrnn.host.device.boards import load_board
from tinyrnn.quantize import targets
from tinyrnn.quantize.errors import TinyRNNError, ToolMissing, UserError
from tinyrnn.host.link.client import connect
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.cells import TwinModel
from tinyrnn.quantize.twin.params import KernelParams

pytestmark = pytest.mark.emulator


def mpy(arch, version=6, sub=3):
    return version | ((sub | deploy.MPY_ARCHS.index(arch) << 2) << 8)


def facts(arch, version=6, sub=3, freq=0, builtin="-"):
    return deploy.BoardFacts(version, sub, arch, "test", freq, builtin)


def test_decode_mpy():
    assert deploy.decode_mpy(mpy("armv7emsp")) == (6, 3, "armv7emsp")
    assert deploy.decode_mpy(0x1606) == (6, 2, "armv7m")          # arch 5 << 10 | sub 2 << 8 | 6
    assert deploy.decode_mpy(6 | 3 << 8) == (6, 3, "none")         # no native emitter (e.g. micro:bit)


@pytest.mark.parametrize("board_arch, expected", [
    ("armv7emsp", "armv7emsp"), ("armv7emdp", "armv7emdp"), ("armv7m", "armv7m"), ("armv6m", "armv6m"),
    ("armv7em", "armv7m"),          # an M4 firmware without FPU loads the older armv7m natmod
    ("x64", "x64"),
    ("rv32imc", "rv32imc"),         # ESP32-C3/C6 firmwares
])
def test_choose_natmod(board_arch, expected):
    assert deploy.choose(facts(board_arch)) == ("natmod", expected, None)


def test_choose_falls_back_to_python_naming_the_speed(tmp_path):
    path = make_artifact(tmp_path / "m", cell="gru", d=6, units=32, k=4, n=2, steps=4, seed=1)
    export(path, progress=False)
    params = KernelParams.load(path)
    impl, arch, warning = deploy.choose(facts("xtensawin", freq=240_000_000), params)
    assert (impl, arch) == ("python", None)
    assert "xtensawin" in warning and "million instructions per step" in warning and "ms at 240 MHz" in warning
    impl, _, warning = deploy.choose(facts("armv7m", sub=2), params)       # another .mpy sub-version
    assert impl == "python" and "v6.2" in warning
    assert deploy.choose(facts("none"))[0] == "python"
    assert deploy.choose(facts("xtensawin", builtin="cmodule")) == ("cmodule", None, None)


def test_parse_probe():
    text = f"junk\r\nTINYRNN-PROBE {mpy('armv6m')} rp2 125000000 - -\r\n"
    assert deploy.parse_probe(text) == deploy.BoardFacts(6, 3, "armv6m", "rp2", 125_000_000, "-", "-")
    assert deploy.parse_probe(text).result_name == "micropython-rp2"     # one results folder per platform
    assert deploy.parse_probe(text.replace("- -", "- user")).main_py == "user"
    with pytest.raises(TinyRNNError):
        deploy.parse_probe("Traceback ...")


def test_flash_needs_port_and_model():
    from tinyrnn.host.cli import main
    assert main(["flash", "--board", "micropython", "--model", "x"]) == 2
    assert main(["flash", "--board", "qemu-mps2-an386", "--port", "/dev/null"]) == 2


def test_flash_at_boot_is_for_micropython_boards_only():
    from tinyrnn.host.cli import main
    assert main(["flash", "--board", "qemu-mps2-an386", "--at-boot"]) == 2


@contextlib.contextmanager
def _main_py_running(port):
    """main.py (from the ROMFS image) started over the raw REPL, as a reset would start it; yields the open line."""
    with serial.Serial(port, 115200, timeout=0.2) as line:
        raw_repl._raw_repl(line, port)
        line.write(b"exec(open('/rom/main.py').read())\x04")
        yield line


def test_deploy_exports_a_model_not_yet_exported_and_names_a_damaged_one(tmp_path):
    """flash --board micropython with a model only trained (no kernel files yet) exports it first, as a firmware
    board's flash does (it used to stop with a traceback); damaged kernel files are one line saying what to do."""
    model = make_artifact(tmp_path / "model", d=3, units=8, k=2, n=2, steps=4)
    assert not (model / "kernel.json").exists()
    params = deploy._kernel_params(model)
    assert params.model_hash == KernelParams.load(model).model_hash
    (model / "kernel.npz").write_bytes(b"not a zip file")
    with pytest.raises(TinyRNNError, match="unreadable artifact") as failure:
        deploy._kernel_params(model)
    assert "\n" not in failure.value.what and "export the model again" in failure.value.fix


@pytest.mark.parametrize("emulated_name, chosen, at_boot", [
    ("mpy-qemu-mps2-an386-cmodule", ("cmodule", None), True),
    ("mpy-qemu-riscv32-virt", ("natmod", "rv32imc"), False),
])
def test_deploy_on_emulated_micropython(tmp_path, emulated_name, chosen, at_boot):
    """probe (mpremote exec) -> choose -> stage -> cp (command line checked) -> server -> bit-exact STEP, named by
    its platform; a second deploy to the serving board is refused at once, saying what to do; --at-boot's main.py
    (on the first board) gives the REPL back to a Ctrl-C in its window and otherwise serves."""
    emulated = load_board(emulated_name)
    if shutil.which(emulated.qemu_binary) is None:
        pytest.skip(f"{emulated.qemu_binary} not installed")
    try:
        elf = qemu_firmware.firmware(emulated)
    except ToolMissing as e:                     # MicroPythonMissing included
        pytest.skip(str(e))
    model = make_artifact(tmp_path / "model", cell="gru", d=6, units=16, k=4, n=2, steps=4, seed=7)
    export(model, progress=False)
    board = load_board("micropython")
    # The files deploy() will choose for this firmware, as a ROMFS image.
    builtin = "cmodule" if chosen[0] == "cmodule" else "-"
    expected = deploy.stage_for(board, facts(emulated.runtime["natmod_arch"], builtin=builtin), *chosen, model,
                                tmp_path / "pre")
    extra = []
    if at_boot:     # main.py with a 1 s window: the emulator's clock is executed instructions (-icount)
        (tmp_path / "pre" / "main.py").write_text(deploy.main_py("micropython-qemu", chosen[0], window_s=1))
        extra = ["main.py"]
    image = staging.romfs_image(tmp_path / "pre", tmp_path / "romfs.img")
    copies = []

    def mpremote(port, *args, **kw):
        if args[0] == "cp":                      # no writable filesystem on the qemu port: mount the image
            copies.append(args)
            return deploy.run_mpremote(port, "exec", qemu_firmware.mount_code(emulated, image.stat().st_size))
        return deploy.run_mpremote(port, *args, **kw)

    def start():
        return qemu.start(emulated, elf, run_dir=tmp_path / "run", extra_args=qemu_firmware.qemu_args(emulated, image))

    record = start()
    try:
        implementation, arch = deploy.deploy(board, record.port, model, mpremote=mpremote, log=lambda s: None,
                                             at_boot=at_boot)
        assert (implementation, arch) == chosen
        assert len(copies) == 1 and copies[0][-1] == ":"
        assert [Path(f).name for f in copies[0][1:-1]] == sorted([Path(f).name for f in expected] + extra)
        client = connect(record.port, expected_hash=KernelParams.load(model).model_hash)
        try:
            assert client.info.kernel_path == targets.CORES[emulated.core].kernel_path    # the C kernels' path
            assert client.info.board_name == "micropython-qemu"
            x = np.arange(6, dtype=np.int16) * 1000 - 2500
            client.reset()
            y, _ = client.step(x)
            np.testing.assert_array_equal(y, TwinModel.from_artifact_dir(model).run(x[None, :])[0])
            # the heap the server measured on the emulated board (STATS): the model's share, what is left
            stats = client.board_stats()
            assert 0 < stats.heap_model < stats.heap_size and 0 < stats.heap_free < stats.heap_size, stats
            assert stats.heap_model + stats.heap_free <= stats.heap_size, stats
        finally:
            client.transport.close()

        began = time.monotonic()
        with pytest.raises(UserError, match="the tinyrnn server is running there") as refused:
            deploy.deploy(board, record.port, model, mpremote=mpremote, log=lambda s: None)
        assert time.monotonic() - began < 30 and "reset the board" in refused.value.fix
        assert len(copies) == 1                  # nothing was copied
    finally:
        qemu.stop(emulated.name, tmp_path / "run")
    if not at_boot:
        return

    # main.py as a reset would run it (the qemu port runs no main.py itself): a Ctrl-C in its window -> the
    # REPL; left alone -> the server answers, under the platform's name.
    record = start()
    try:
        deploy.run_mpremote(record.port, "exec", qemu_firmware.mount_code(emulated, image.stat().st_size))
        with _main_py_running(record.port) as line:
            time.sleep(0.5)
            line.write(b"\x03")
            assert b"\x04>" in raw_repl._read_until(line, b"\x04>", 10.0)         # main.py ended: the REPL
        mount = qemu_firmware.mount_code(emulated, image.stat().st_size)
        assert deploy.run_mpremote(record.port, "exec", mount + "print(6 * 7)").strip() == "42"   # (a soft reset)
        with _main_py_running(record.port) as line:           # left alone: it serves once its window is over
            assert raw_repl.READY in raw_repl._read_until(line, raw_repl.READY, 60.0)
        info = deploy.serving(record.port)
        assert info is not None and info.board_name == "micropython-qemu"
    finally:
        qemu.stop(emulated.name, tmp_path / "run")
    assert builds.MICROPY_VERSION == "1.28.0"
