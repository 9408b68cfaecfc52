"""The target table: every core the kit compiles for, and the compiler flags each gets. The one copy.

Read by the board data (host/device/boards.py: which cores and FPUs a board may name, its board.mk flags, its
kernel path), the kernel builds (quantize/toolchain/build.py: the bench targets; emulate.py: unicorn's CPU
model), the C library's size measurement (quantize/emit/c_library.py). Files that cannot import Python get
GENERATED blocks (maintainers, from a clone; tests/test_targets.py fails when one drifts):

    python -m tinyrnn.quantize.targets --update
        quantize/emit/library/cmake/arm-none-eabi.cmake      TINYRNN_CPU -> float ABI flags
        firmware/micropython/qemu-boards/MPS2_AN386/mpconfigboard.mk   the M4F MicroPython board's flags
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Core:
    name: str                        # -mcpu (Arm) or -march (RISC-V) value; the board data's [cpu] core
    family: str                      # "cortexm" or "riscv" (host/device/boards.py FAMILIES)
    arch: str                        # the architecture the core implements
    fpus: tuple[str, ...] = ()       # FPUs the core may carry; the first is the one the kit's own builds use
    kernel_path: str = "c"           # "dsp", "m0", "m3", "rv32" or "c": what tr_fast_path.h picks for the target
    bench: str | None = None         # its name as a bench / unicorn target ("m4"); None: not benched
    unicorn_model: str | None = None  # unicorn CPU model of the bench (unicorn.arm_const / riscv_const name)
    boards: bool = True              # False: only the exported library's CMake toolchain knows it (no board)

    @property
    def weight_layout(self) -> int:
        """The generated C's weight layout its kernel path reads (quantize/emit/c_code.py LAYOUTS, tinyrnn.h
        TINYRNN_KERNEL_C_LAYOUT): the byte layout (3) on the rv32 path, the row-pair layout (2) elsewhere."""
        return 3 if self.kernel_path == "rv32" else 2


CORES: dict[str, Core] = {core.name: core for core in (
    Core("cortex-m0", "cortexm", "armv6-m", kernel_path="m0", bench="m0", unicorn_model="UC_CPU_ARM_CORTEX_M0"),
    Core("cortex-m0plus", "cortexm", "armv6-m", kernel_path="m0", boards=False),
    Core("cortex-m3", "cortexm", "armv7-m", kernel_path="m3", bench="m3", unicorn_model="UC_CPU_ARM_CORTEX_M3"),
    Core("cortex-m4", "cortexm", "armv7e-m", ("fpv4-sp-d16",), "dsp", "m4", "UC_CPU_ARM_CORTEX_M4"),
    Core("cortex-m7", "cortexm", "armv7e-m", ("fpv5-d16", "fpv5-sp-d16"), "dsp", "m7", "UC_CPU_ARM_CORTEX_M7"),
    Core("cortex-m33", "cortexm", "armv8-m.main", ("fpv5-sp-d16",), "dsp", boards=False),
    # RISC-V cores are named by their ISA string; the kit's C has no float, so -mabi=ilp32 on all of them.
    Core("rv32i", "riscv", "rv32i"),
    Core("rv32im", "riscv", "rv32im", kernel_path="rv32"),
    Core("rv32imc", "riscv", "rv32imc", kernel_path="rv32", bench="rv32", unicorn_model="UC_CPU_RISCV32_SIFIVE_E31"),
    Core("rv32imac", "riscv", "rv32imac", kernel_path="rv32"),
)}

NO_FPU = "none"
TOOLCHAIN_PREFIX = {"cortexm": "arm-none-eabi", "riscv": "riscv64-unknown-elf"}   # family -> GNU tool prefix
TOOLCHAIN_PACKAGE = {"cortexm": "gcc-arm-none-eabi", "riscv": "gcc-riscv64-unknown-elf"}   # family -> Debian package


def cpu_flags(core: str, fpu: str = NO_FPU) -> list[str]:
    """The target flags of a core (with an FPU: the hard-float ABI, else soft; the kernels need no FPU)."""
    target = CORES[core]
    if fpu != NO_FPU and fpu not in target.fpus:
        raise ValueError(f"{core} has no FPU {fpu!r} (it may have: {', '.join(target.fpus) or 'none'})")
    if target.family == "riscv":
        # ISA spec 2.2: I includes the CSR instructions (Zicsr), and GCC picks the rv32 multilib libgcc
        return [f"-march={core}", "-misa-spec=2.2", "-mabi=ilp32"]
    flags = [f"-mcpu={core}", "-mthumb"]
    return flags + ([f"-mfpu={fpu}", "-mfloat-abi=hard"] if fpu != NO_FPU else ["-mfloat-abi=soft"])


def default_fpu(core: str) -> str:
    """The FPU the kit's own builds give a core (hard-float where it has one, to show the kernels do not care)."""
    return (CORES[core].fpus or (NO_FPU,))[0]


def bench_cores(family: str | None = None) -> dict[str, Core]:
    """Bench target name -> core, in table order (m0, m3, m4, m7, rv32); only `family`'s when given."""
    return {core.bench: core for core in CORES.values() if core.bench and family in (None, core.family)}


def bench_tool(bench: str, tool: str) -> str:
    """The GNU tool of a bench target's toolchain: bench_tool("rv32", "gcc") -> "riscv64-unknown-elf-gcc"."""
    return f"{TOOLCHAIN_PREFIX[bench_cores()[bench].family]}-{tool}"


def bench_flags(bench: str) -> list[str]:
    core = bench_cores()[bench]
    return cpu_flags(core.name, default_fpu(core.name))


def board_fpus() -> dict[str, set[str] | None]:
    """FPU name -> the board cores that may carry it ("none": any core)."""
    out: dict[str, set[str] | None] = {NO_FPU: None}
    for core in CORES.values():
        if core.boards:
            for fpu in core.fpus:
                out.setdefault(fpu, set()).add(core.name)
    return out


# ---- natmods: MicroPython's architecture names (py/dynruntime.mk ARCH, mpy-cross -march) ------------------

def natmod_arch(core: str, fpu: str = NO_FPU) -> str:
    """The .mpy architecture of native code for a core and FPU (MicroPython's names)."""
    arch = CORES[core].arch
    if arch == "armv6-m":
        return "armv6m"
    if arch == "armv7-m":
        return "armv7m"
    if arch == "armv7e-m":
        return {NO_FPU: "armv7em", "fpv4-sp-d16": "armv7emsp", "fpv5-sp-d16": "armv7emsp",
                "fpv5-d16": "armv7emdp"}[fpu]
    if arch in ("rv32imc", "rv32imac"):
        # MicroPython's RISC-V emitter needs the C extension; its natmods are rv32imc (no atomics: ESP32-C3)
        return "rv32imc"
    raise ValueError(f"no MicroPython native architecture for {core}")


def natmod_weight_layout(arch: str) -> int:
    """The weight layout (Core.weight_layout) the natmod of MicroPython architecture `arch` reads; an architecture
    no core here has (xtensawin, x64) compiles the plain-C path, which reads the row-pair layout (2)."""
    layouts = {core.weight_layout for core in CORES.values() for fpu in (NO_FPU, *core.fpus)
               if _natmod_arch_or_none(core.name, fpu) == arch}
    if len(layouts) > 1:
        raise ValueError(f"natmod architecture {arch!r} is shared by cores of weight layouts {sorted(layouts)}")
    return layouts.pop() if layouts else 2


def _natmod_arch_or_none(core: str, fpu: str) -> str | None:
    try:
        return natmod_arch(core, fpu)
    except ValueError:
        return None


# ---- the generated copies -------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "# ---- GENERATED by `python -m tinyrnn.quantize.targets --update` from quantize/targets.py: do not edit."
END = "# ---- end of GENERATED"
CMAKE_PATH = "quantize/emit/library/cmake/arm-none-eabi.cmake"
MPY_BOARD_PATH = "firmware/micropython/qemu-boards/MPS2_AN386/mpconfigboard.mk"
MPY_BOARD_CPU = ("cortex-m4", "fpv4-sp-d16")          # QEMU's mps2-an386


def cmake_block() -> str:
    """TINYRNN_CPU -> the float ABI flags, for the exported library's Cortex-M toolchain file."""
    arm = [core for core in CORES.values() if core.family == "cortexm"]
    lines = [BEGIN,
             f'set(TINYRNN_CPU "cortex-m4" CACHE STRING "{", ".join(c.name for c in arm[:-1])} or {arm[-1].name}")',
             "list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TINYRNN_CPU)"]
    keyword = "if"
    for core in arm:
        if core.fpus:
            flags = cpu_flags(core.name, default_fpu(core.name))[2:]
            lines += [f'{keyword}(TINYRNN_CPU STREQUAL "{core.name}")', f'    set(tinyrnn_float "{" ".join(flags)}")']
            keyword = "elseif"
    lines += ["else()", f'    set(tinyrnn_float "{" ".join(cpu_flags("cortex-m0")[2:])}")', "endif()", END]
    return "\n".join(lines) + "\n"


def mpy_board_block() -> str:
    """The compiler and mpy-cross flags of the out-of-tree MicroPython board for QEMU's mps2-an386."""
    core, fpu = MPY_BOARD_CPU
    flags = cpu_flags(core, fpu)
    flags.insert(0, flags.pop(1))                   # -mthumb first, as the port's own boards write it
    return "\n".join([BEGIN, f"CFLAGS += {' '.join(flags)}",
                      f"MPY_CROSS_FLAGS += -march={natmod_arch(core, fpu)}", END]) + "\n"


GENERATED = {CMAKE_PATH: cmake_block, MPY_BOARD_PATH: mpy_board_block}


def generated_block(text: str) -> str:
    """The GENERATED block of a file's text ('' when it has none)."""
    start = text.find(BEGIN)
    end = text.find(END, start)
    return text[start:end + len(END)] + "\n" if start >= 0 and end >= 0 else ""


def _update() -> None:
    for relative, render in GENERATED.items():
        path = ROOT / relative
        text = path.read_text()
        old = generated_block(text)
        if not old:
            raise SystemExit(f"{path}: no GENERATED block to update (add the {BEGIN!r} ... {END!r} lines)")
        path.write_text(text.replace(old, render()))


if __name__ == "__main__":
    if "--update" not in sys.argv[1:]:
        raise SystemExit("usage: python -m tinyrnn.quantize.targets --update")
    _update()
