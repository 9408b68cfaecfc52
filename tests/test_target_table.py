"""One target table (quantize/targets.py: core -> compiler flags, kernel path, unicorn model, natmod arch), and
every place that needs those facts reads it or holds a copy generated from it. A copy that drifts fails here.
Only the last test starts a compiler (the preprocessor, for its predefined macros)."""

import re
import shutil
import subprocess

import pytest

from tinyrnn.host.device import boards
from tinyrnn.quantize import targets
from tinyrnn.quantize.emit import c_library
from tinyrnn.quantize.sources import FIRMWARE_DIR
from tinyrnn.quantize.toolchain import build

pytestmark = pytest.mark.fast


def test_generated_blocks_match_the_table():
    for relative, render in targets.GENERATED.items():
        text = (targets.ROOT / relative).read_text()
        assert targets.generated_block(text) == render(), f"{relative}: run python -m tinyrnn.quantize.targets --update"


def test_python_readers_take_the_table():
    assert build.BENCH_TARGETS == {name: targets.cpu_flags(core.name, targets.default_fpu(core.name))
                                   for name, core in targets.bench_cores().items()}
    assert list(build.BENCH_TARGETS) == ["m0", "m3", "m4", "m7", "rv32"]
    assert build.ARM_TARGETS == {name: build.BENCH_TARGETS[name] for name in ("m0", "m3", "m4", "m7")}
    for name, (_, flags) in c_library.SIZE_TARGETS.items():
        core = targets.bench_cores()[name].name if name in targets.bench_cores() else name
        assert flags == targets.cpu_flags(core, targets.default_fpu(core))
    assert set(boards.CORES) == {name for name, core in targets.CORES.items() if core.boards}
    assert boards.FPUS == targets.board_fpus()


def test_unicorn_models_are_the_tables():
    emulate = pytest.importorskip("tinyrnn.quantize.toolchain.emulate")
    from unicorn import arm_const, riscv_const
    assert emulate.CPU_MODELS == {name: getattr(riscv_const if core.family == "riscv" else arm_const,
                                                core.unicorn_model)
                                  for name, core in targets.bench_cores().items()}


def test_every_board_gets_its_flags_and_kernel_path_from_the_table():
    for name in boards.board_names():
        board = boards.load_board(name)
        if board.core not in targets.CORES:
            continue                                    # a real MicroPython board whose core is probed
        if not board.micropython:                      # the kit's firmware: board.mk carries the flags
            assert board.cpu_flags() == targets.cpu_flags(board.core, board.fpu), name
            assert board.kernel_path == targets.CORES[board.core].kernel_path, name
            assert f"BOARD_CPU_FLAGS := {' '.join(board.cpu_flags())}\n" in boards.board_mk(board)
        if board.runtime.get("natmod_arch"):
            assert board.runtime["natmod_arch"] == targets.natmod_arch(board.core, board.fpu), name


def test_makefiles_keep_no_target_flags_of_their_own():
    """The firmware takes BOARD_CPU_FLAGS from the generated board.mk; the natmod takes its flags from
    MicroPython's dynruntime.mk per ARCH."""
    for path in (FIRMWARE_DIR / "Makefile", FIRMWARE_DIR / "micropython" / "native" / "Makefile",
                 FIRMWARE_DIR / "micropython" / "native" / "micropython.mk"):
        assert not re.search(r"-m(cpu|fpu|float-abi|arch)=", path.read_text()), path


@pytest.mark.toolchain
@pytest.mark.skipif(shutil.which(build.ARM_GCC) is None, reason="arm-none-eabi-gcc not installed")
def test_kernel_paths_follow_the_compilers_target_macros():
    """The kernel path the table names for a core is the one tinyrnn.h picks from the target's predefined
    macros: DSP instructions -> "dsp", Armv6-M -> "m0", Armv7-M (Cortex-M3) -> "m3", anything else plain C."""
    for core in targets.CORES.values():
        if core.family != "cortexm":
            continue
        flags = targets.cpu_flags(core.name, targets.default_fpu(core.name))
        macros = subprocess.run([build.ARM_GCC, *flags, "-dM", "-E", "-x", "c", "/dev/null"], capture_output=True,
                                text=True, check=True).stdout
        expected = "dsp" if "__ARM_FEATURE_DSP 1" in macros else ("m0" if "__ARM_ARCH_6M__ 1" in macros else
                                                                 "m3" if "__ARM_ARCH_7M__ 1" in macros else "c")
        assert core.kernel_path == expected, core.name


@pytest.mark.toolchain
@pytest.mark.skipif(not build.toolchain_available("rv32"), reason="riscv64-unknown-elf-gcc not installed")
def test_riscv_kernel_paths_are_what_tr_fast_path_picks():
    """For each RISC-V core the table's kernel path is tr_fast_path.h's TR_KERNEL_PATH under that core's flags:
    "rv32" where the M extension is there (tr_rv32_bytes_blocks multiplies), plain "c" on RV32I."""
    gcc = targets.bench_tool("rv32", "gcc")
    for core in targets.CORES.values():
        if core.family != "riscv":
            continue
        out = subprocess.run([gcc, *targets.cpu_flags(core.name), f"-I{build.KERNELS_DIR}", "-E", "-P", "-x", "c",
                              "-"], input='#include "tr_fast_path.h"\nTR_KERNEL_PATH\n', capture_output=True,
                             text=True, check=True).stdout
        assert out.split()[-1] == f'"{core.kernel_path}"', core.name
    assert targets.CORES["rv32imc"].kernel_path == "rv32" and targets.CORES["rv32i"].kernel_path == "c"
