"""Board data: the one reader of `boards/<name>/board.toml`.

Both the firmware build (through the files `generate()` writes) and the flasher use this module, so a board's
facts (its clock, memory, UART, how it is run) live in exactly one file. A board of a known family is added by
writing a new `board.toml`: the family code in `firmware/platform/` reads everything else from the generated
`board_config.h`.

    tinyrnn boards list
    tinyrnn boards show qemu-mps2-an386
    tinyrnn boards generate qemu-mps2-an386 OUTDIR   # board_config.h, link.ld, link_unbounded.ld, board.mk
"""

import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tinyrnn.host.device.board_checks import Key, Part, among, check_parts, chosen, need, one_of, within
from tinyrnn.quantize import targets
from tinyrnn.quantize.errors import BoardDataError
from tinyrnn.quantize.sources import BOARDS_DIR, FIRMWARE_DIR, PACKAGE_ROOT

# Core families: each implements the porting contract once (firmware/platform/<family>/: startup with
# platform_irq_enable, the linker script template), and brings its compiler and emulator. A board names its core;
# everything else about the family follows from it.
FAMILIES = {
    "cortexm": {"cross": "arm-none-eabi-", "qemu": "qemu-system-arm", "apt": "gcc-arm-none-eabi qemu-system-arm"},
    "riscv": {"cross": "riscv64-unknown-elf-", "qemu": "qemu-system-riscv32",
              "apt": "gcc-riscv64-unknown-elf qemu-system-misc"},
}
STACK_DATA = FIRMWARE_DIR / "stack.toml"
LINKER_TEMPLATES = {family: FIRMWARE_DIR / "platform" / family / "link.ld.in" for family in FAMILIES}

# The cores a board may name (core -> architecture) and the FPUs each may carry (fpu -> cores; "none": any),
# from the one target table (quantize/targets.py), which also gives their compiler flags.
CORES = {name: core.arch for name, core in targets.CORES.items() if core.boards}
FPUS = targets.board_fpus()
STM32_BUSES = {"apb1", "apb2"}
STM32_RCC_REGS = {"AHB1ENR": 0x30, "APB1ENR": 0x40, "APB2ENR": 0x44}
BAUDS_NRF = {9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000}


# Family code: each part of the porting contract (firmware/platform/platform.h) is one source file per kind,
# named by board data; each declares beside its file the board.toml keys it reads (board_checks.Part).
def _ns16550_clock(data, where):
    if data["uart"]["clock_hz"] < 16 * data["uart"]["baud"]:
        raise BoardDataError(f"{where}: [uart] clock_hz must be at least 16 x baud")


def _stm32_silicon_pins(data, where):
    """Real silicon (tx_pin or rcc_enable given) needs the clock enable and the pins; QEMU needs neither."""
    uart = data["uart"]
    if "tx_pin" not in uart and "rcc_enable" not in uart:
        return
    for key in ("tx_pin", "rx_pin"):
        if not re.fullmatch(r"P[A-K]([0-9]|1[0-5])", need(uart, key, str, where + " [uart]")):
            raise BoardDataError(f"{where}: [uart] {key} must look like PA2")
    if not 0 <= need(uart, "af", int, where + " [uart]") <= 15:
        raise BoardDataError(f"{where}: [uart] af must be 0..15")
    reg, _, bit = need(uart, "rcc_enable", str, where + " [uart]").partition(":")
    if reg not in STM32_RCC_REGS or not bit.isdigit() or int(bit) > 31:
        raise BoardDataError(f"{where}: [uart] rcc_enable must be like 'APB1ENR:17'")


def _stm32f4_pll(data, where):
    _check_stm32f4_pll(data["clock"], data["cpu"]["clock_hz"], where)


# STM32F446 (RM0390 section 3.4.1, Table 5; the F405/F407's RM0090 Table 10 is the same up to its 168 MHz): the
# highest HCLK each number of flash wait states allows at VDD 2.7-3.6 V (a Nucleo's 3.3 V), index = wait states.
STM32F4_WAIT_STATE_MAX_HCLK = (30_000_000, 60_000_000, 90_000_000, 120_000_000, 150_000_000, 180_000_000)
# Above this HCLK the regulator needs over-drive (RM0390 section 5.1.4; voltage scale 1); 180 MHz is the ceiling.
STM32F4_MAX_HCLK_WITHOUT_OVERDRIVE = 168_000_000


def _stm32f4_overdrive(data, where):
    """A clock above 168 MHz needs [clock] overdrive = true (the clock driver then runs RM0390's sequence)."""
    hclk = data["cpu"]["clock_hz"] // data["clock"]["ahb_div"]
    if hclk > STM32F4_WAIT_STATE_MAX_HCLK[-1]:
        raise BoardDataError(f"{where}: [clock] HCLK {hclk} Hz is above the STM32F4's 180 MHz")
    if hclk > STM32F4_MAX_HCLK_WITHOUT_OVERDRIVE and not data["clock"].get("overdrive", False):
        raise BoardDataError(f"{where}: [clock] HCLK {hclk} Hz needs over-drive (above 168 MHz): "
                             "set overdrive = true (STM32F446/F427/F429 only) or lower the clock")


def _stm32f4_wait_states(data, where):
    """flash_latency must be exactly the wait states HCLK needs: fewer fail on silicon, more waste cycles."""
    hclk = data["cpu"]["clock_hz"] // data["clock"]["ahb_div"]
    needed = next(ws for ws, top in enumerate(STM32F4_WAIT_STATE_MAX_HCLK) if hclk <= top)
    if data["clock"]["flash_latency"] != needed:
        raise BoardDataError(f"{where}: [clock] flash_latency {data['clock']['flash_latency']} is wrong for HCLK "
                             f"{hclk} Hz: it needs {needed} wait states (RM0390 Table 5, 2.7-3.6 V)")


_NRF_PINS = (Key("uart", "baud", int, among(BAUDS_NRF, "baud")),
             *(Key("uart", pin, int, within(0, 47, f"[uart] {pin} must be a pin number 0..47 (P1.n = 32+n)"))
               for pin in ("tx_pin", "rx_pin")))
UART_DRIVERS = {
    "cmsdk": Part("platform/uart/cmsdk_uart.c"),
    "stm32-usart": Part("platform/uart/stm32_usart.c", keys=(Key("uart", "bus", str, among(STM32_BUSES, "uart bus")),),
                        rules=(_stm32_silicon_pins,)),
    "nrf-uart": Part("platform/uart/nrf_uart.c", keys=_NRF_PINS),
    "nrf-uarte": Part("platform/uart/nrf_uarte.c", keys=_NRF_PINS),
    "ns16550": Part("platform/uart/ns16550.c", keys=(Key("uart", "clock_hz", int),), rules=(_ns16550_clock,)),
}
CLOCK_DRIVERS = {
    "none": Part("platform/clock/clock_none.c"),
    "stm32f4-pll": Part("platform/clock/stm32f4_pll.c", keys=(Key("clock", "overdrive", bool, optional=True),),
                        rules=(_stm32f4_pll, _stm32f4_overdrive, _stm32f4_wait_states)),
    "nrf52-hfxo": Part("platform/clock/nrf52_hfxo.c"),
}


def _counter_on_family(data, where):
    core, counter = data["cpu"]["core"], data["cpu"]["counter"]
    family = core_family(core)
    if counter not in FAMILY_COUNTERS[family]:
        raise BoardDataError(f"{where}: counter {counter!r} does not exist on {core} "
                             f"(use one of {sorted(FAMILY_COUNTERS[family])})")


def _dwt_needs_armv7m(data, where):
    if data["cpu"]["core"] == "cortex-m0":
        raise BoardDataError(f"{where}: Cortex-M0 has no DWT cycle counter: use counter = \"systick\"")


COUNTERS = {"systick": Part("platform/counter/systick.c", rules=(_counter_on_family,)),
            "dwt": Part("platform/counter/dwt.c", rules=(_counter_on_family, _dwt_needs_armv7m)),
            "minstret": Part("platform/counter/minstret.c", rules=(_counter_on_family,))}
FAMILY_COUNTERS = {"cortexm": {"systick", "dwt"}, "riscv": {"minstret"}}
INTERRUPT_CONTROLLERS = {"riscv": "plic"}      # Cortex-M: the NVIC, part of the architecture (no board data)
# What each family's interrupt wiring needs: Cortex-M an NVIC IRQn, RISC-V a PLIC ([interrupts]) and its source.
FAMILY_INTERRUPTS = {
    "cortexm": Part(keys=(Key("uart", "irq", int, within(
        0, 239, "[uart] irq must be the receive interrupt's number 0..239 (NVIC IRQn)")),)),
    "riscv": Part(tables=("interrupts",), keys=(
        Key("interrupts", "controller", str, among({"plic"}, "interrupt controller")),
        Key("interrupts", "base", int),
        Key("interrupts", "context", int, within(
            0, 15871, "[interrupts] context must be the PLIC context of hart 0 in machine mode")),
        Key("uart", "irq", int, within(1, 1023, "[uart] irq must be the receive interrupt's PLIC source 1..1023")))),
}


def _qemu_has_no_dwt(data, where):
    if data["cpu"]["counter"] == "dwt":
        raise BoardDataError(f"{where}: QEMU emulates no DWT: emulated boards use counter = \"systick\"")


def _qemu_args(data, where):
    args = data["runner"].get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BoardDataError(f"{where}: [runner] args must be a list of strings (extra QEMU arguments)")


RUNNERS = {
    "qemu": Part(keys=(Key("runner", "machine", str),), rules=(_qemu_has_no_dwt, _qemu_args)),
    "probe": Part(keys=(Key("runner", "tool", str, among({"openocd", "pyocd"}, "[runner] tool")),
                        Key("runner", "pyocd_target", str), Key("runner", "openocd_args", list))),
}
# A board whose [runtime] is MicroPython runs MicroPython's own firmware (host/device/micropython/), not the kit's:
# it has no [memory]/[clock]/[uart] of the kit's firmware, but says how the kernel reaches MicroPython.
MICROPYTHON_MODULES = {"natmod", "cmodule", "python"}     # tinyrnn_c.mpy, tinyrnn_c compiled in, tinyrnn_mp.py
NATMOD_ARCHS = {"armv6m", "armv7m", "armv7emsp", "armv7emdp", "rv32imc"}
# Address room the "unbounded" linker script gives, to measure a build that does not fit the real board.
UNBOUNDED_SIZE = 0x0400_0000


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    core: str
    fpu: str
    clock_hz: int
    counter: str                 # "dwt" | "systick"
    flash_origin: int
    flash_size: int
    ram_origin: int
    ram_size: int
    stack_override: int          # [memory] stack_size, 0 if the board leaves it to firmware/stack.toml
    clock: dict                  # [clock] table, family-specific keys
    uart: dict                   # [uart] table, family-specific keys
    runner: dict                 # [runner] table
    path: Path = field(compare=False)
    runtime: dict = field(default_factory=lambda: {"kind": "firmware"})   # [runtime]: firmware | micropython
    interrupts: dict = field(default_factory=dict)   # [interrupts]: the controller when not architectural (PLIC)

    @property
    def family(self):
        """'cortexm' or 'riscv': which firmware/platform/<family>/ code, compiler and emulator the board uses."""
        return core_family(self.core)

    @property
    def kernel_path(self):
        """Which kernel code the compiler picks for this core (firmware/kernels/tr_fast_path.h TR_KERNEL_PATH):
        "dsp" on Armv7E-M (M4, M7), "m0" on Armv6-M, "m3" on Armv7-M, "rv32" on RV32IM(A)(C), plain "c" elsewhere."""
        return targets.CORES[self.core].kernel_path if self.core in CORES else "c"

    @property
    def stack_size(self):
        """Bytes of stack the firmware reserves: [memory] stack_size if the board sets it, else the measured
        high-water mark of its family and kernel path plus the margin (firmware/stack.toml)."""
        if self.stack_override:
            return self.stack_override
        measured, margin = stack_measured(self.family, self.kernel_path)
        return -(-(measured + margin) // 64) * 64

    @property
    def stack_origin(self):
        """Where stack_size comes from, in words (`tinyrnn boards show`)."""
        if self.stack_override:
            return "set in its board.toml"
        measured, margin = stack_measured(self.family, self.kernel_path)
        return f"firmware/stack.toml: measured {measured} + margin {margin}, rounded up to 64"

    @property
    def cross(self):
        """The cross compiler's prefix (arm-none-eabi-, riscv64-unknown-elf-)."""
        return FAMILIES[self.family]["cross"]

    @property
    def qemu_binary(self):
        return FAMILIES[self.family]["qemu"]

    @property
    def counter_hz(self):
        """Latency ticks per second (INFO counter_hz): the CPU clock for SysTick and DWT; 1e9 for minstret,
        which counts instructions, so that the host's conversion for instructions (x 1e9 / counter_hz, one
        instruction per ns under QEMU -icount shift=0) leaves its readings as they are."""
        return 1_000_000_000 if self.counter == "minstret" else self.clock_hz

    # The board's kind, as data (host/device/targets.py chooses its Target from it once; commands never ask).
    micropython = False
    hwtest_default = True

    @property
    def emulated(self):
        return self.runner["kind"] == "qemu"

    @property
    def counter_unit(self):
        """What latency figures mean: QEMU (-icount shift=0) counts executed instructions, silicon cycles;
        minstret counts instructions everywhere."""
        return "instructions" if self.emulated or self.counter == "minstret" else "cycles"

    @property
    def has_fpu(self):
        return self.fpu != "none"

    @property
    def uart_clock_hz(self):
        """Clock feeding the UART's baud generator (STM32: its APB bus; a 16550: its own [uart] clock_hz)."""
        if "clock_hz" in self.uart:
            return self.uart["clock_hz"]
        bus = self.uart.get("bus")
        if bus is None or self.clock["family"] == "none":
            return self.clock_hz
        return self.clock_hz // self.clock["ahb_div"] // self.clock[f"{bus}_div"]

    def cpu_flags(self):
        return targets.cpu_flags(self.core, self.fpu if self.has_fpu else targets.NO_FPU)

    def platform_sources(self):
        return [f"platform/{self.family}/startup.c", "platform/reset.c", "platform/libc_min.c",
                UART_DRIVERS[self.uart["family"]].source, CLOCK_DRIVERS[self.clock["family"]].source,
                COUNTERS[self.counter].source]


def stack_measured(family, kernel_path):
    """(measured high-water mark, margin) in bytes for a family and kernel path, from firmware/stack.toml."""
    data = tomllib.loads(STACK_DATA.read_text())
    key = f"{family}-{kernel_path}"
    if key not in data["measured"]:
        raise BoardDataError(f"{STACK_DATA}: no measured stack for {key}: run tests/test_stack.py on a board of "
                             "that family and path and add the figure, or set [memory] stack_size in the board.toml")
    return data["measured"][key], data["margin"]


def core_family(core):
    """'cortexm' or 'riscv' for a [cpu] core."""
    return "riscv" if core.startswith("rv") else "cortexm"


@dataclass(frozen=True)
class MicroPythonBoard:
    """A board of [runtime] kind "micropython": MicroPython's own firmware runs there, so it has none of the kit
    firmware's memory, clock or UART data. [runner] qemu: emulated ([cpu] and the firmware's [runtime] keys);
    mpremote: a real board on --port, whose architecture and clock are probed at flash time (core "unknown")."""
    name: str
    description: str
    core: str                    # "unknown" on a real board: probed
    fpu: str
    clock_hz: int                # 0 on a real board: probed
    runner: dict                 # [runner]: kind qemu (machine) | mpremote
    path: Path = field(compare=False)
    runtime: dict = field(default_factory=dict)   # [runtime]: module, natmod_arch, port_board, romfs_address, ...

    micropython = True

    @property
    def family(self):
        return core_family(self.core)

    @property
    def qemu_binary(self):
        return FAMILIES[self.family]["qemu"]

    @property
    def emulated(self):
        return self.runner["kind"] == "qemu"

    @property
    def hwtest_default(self):
        """In `tinyrnn hwtest`'s default set unless [runtime] hwtest_default = false (CI time)."""
        return self.runtime.get("hwtest_default", True)


def board_names():
    return sorted(p.parent.name for p in BOARDS_DIR.glob("*/board.toml"))


def load_board(name_or_path):
    """Load and validate a board by name (`boards/<name>/board.toml`) or by path to a board.toml."""
    path = Path(name_or_path)
    if not path.suffix == ".toml":
        path = BOARDS_DIR / str(name_or_path) / "board.toml"
    if not path.is_file():
        raise BoardDataError(f"unknown board {name_or_path!r} (known: {', '.join(board_names())})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BoardDataError(f"{path}: {e}") from None
    return board_from_dict(data, path)


def _check_name(data, path, where):
    name = need(data, "name", str, where)
    if path.name == "board.toml" and path.parent.name != name:
        raise BoardDataError(f"{where}: name {name!r} differs from its folder {path.parent.name!r}")
    return name


# --- firmware boards: the kit's firmware, its porting contract chosen part by part ---------------------------

def _fpu_exists_on_core(data, where):
    core, fpu = data["cpu"]["core"], data["cpu"]["fpu"]
    if fpu != "none" and core not in FPUS[fpu]:
        raise BoardDataError(f"{where}: fpu {fpu!r} does not exist on {core}")


def _multiple_of_4(key):
    def check(value):
        return None if value >= 0 and not value % 4 else f"[memory] {key} must be a non-negative multiple of 4"
    return check


def _stack_fits(data, where):
    mem = data["memory"]
    if "stack_size" in mem and (mem["stack_size"] < 512 or mem["stack_size"] >= mem["ram_size"]):
        raise BoardDataError(f"{where}: stack_size must be >= 512 and smaller than ram_size")


FIRMWARE_BOARD = Part(
    tables=("cpu", "memory", "clock", "uart", "runner"),
    keys=(Key("", "name", str, lambda name: None if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", name)
              else f"name {name!r} must be 1-32 chars of a-z, 0-9, '-'"),
          Key("cpu", "core", str, among(CORES, "core")), Key("cpu", "fpu", str, among(FPUS, "fpu")),
          Key("cpu", "clock_hz", int, within(1_000_000, 1_000_000_000, "clock_hz {value} out of range")),
          *(Key("memory", k, int, _multiple_of_4(k)) for k in ("flash_origin", "flash_size", "ram_origin", "ram_size")),
          Key("memory", "stack_size", int, _multiple_of_4("stack_size"), optional=True),   # else firmware/stack.toml
          Key("uart", "base", int), Key("uart", "baud", int)),
    rules=(_fpu_exists_on_core, _stack_fits))


def _named_by(selector, parts):
    """The Part whose name `selector` (a Key) holds, the key validated first."""
    return lambda data, where: chosen(data, selector, parts, where)


# What a firmware board's data names, in the order errors are reported: each entry picks one Part from the data
# validated so far (the counter, clock driver, UART driver, the core's family, the runner), and one loop checks it.
FIRMWARE_PARTS = (
    lambda data, where: FIRMWARE_BOARD,
    _named_by(Key("cpu", "counter", str, among(COUNTERS, "counter")), COUNTERS),
    _named_by(Key("clock", "family", str, among(CLOCK_DRIVERS, "clock family")), CLOCK_DRIVERS),
    _named_by(Key("uart", "family", str, among(UART_DRIVERS, "uart family")), UART_DRIVERS),
    lambda data, where: FAMILY_INTERRUPTS[core_family(data["cpu"]["core"])],
    _named_by(Key("runner", "kind", str, among(RUNNERS, "runner kind")), RUNNERS),
)


def _firmware_board(data, path, where):
    for table in FIRMWARE_BOARD.tables:
        need(data, table, dict, where)
    name = _check_name(data, path, where)
    for pick in FIRMWARE_PARTS:
        pick(data, where).validate(data, where)
    cpu, mem = data["cpu"], data["memory"]
    # [interrupts] only where the family reads it (RISC-V's PLIC); Cortex-M's NVIC is architectural
    family_tables = FAMILY_INTERRUPTS[core_family(cpu["core"])].tables
    return Board(name=name, description=data.get("description", ""), core=cpu["core"], fpu=cpu["fpu"],
                 clock_hz=cpu["clock_hz"], counter=cpu["counter"], clock=dict(data["clock"]), uart=dict(data["uart"]),
                 runner=dict(data["runner"]), path=path,
                 interrupts=dict(data["interrupts"]) if "interrupts" in family_tables else {},
                 stack_override=mem.get("stack_size", 0),
                 **{k: mem[k] for k in ("flash_origin", "flash_size", "ram_origin", "ram_size")})


# --- MicroPython boards: MicroPython's firmware; the runner says whether it is emulated or on a port ----------

def _runtime_flags(data, where):
    runtime = data["runtime"]
    for key in ("user_c_module", "hwtest_default"):        # optional
        if key in runtime and not isinstance(runtime[key], bool):
            raise BoardDataError(f"{where} [runtime]: {key} must be true or false")
    if runtime["module"] == "cmodule" and runtime.get("user_c_module") is False:
        raise BoardDataError(f"{where} [runtime]: module = \"cmodule\" needs the firmware with it "
                             "(drop user_c_module = false)")


def _probed_natmod_arch(data, where):
    if "natmod_arch" in data["runtime"]:
        one_of(data["runtime"]["natmod_arch"], NATMOD_ARCHS, "natmod_arch", where)


MICROPYTHON_BOARD = Part(tables=("runner", "runtime"),
                         keys=(Key("runtime", "module", str, among(MICROPYTHON_MODULES, "module")),),
                         rules=(_runtime_flags,))
MICROPYTHON_RUNNERS = {
    # MicroPython's qemu port firmware, built by the kit, the model in a ROMFS image QEMU loads
    "qemu": Part(tables=("cpu",), keys=(
        Key("cpu", "core", str, among(CORES, "core")), Key("cpu", "fpu", str, among(FPUS, "fpu")),
        Key("cpu", "clock_hz", int),
        Key("runtime", "natmod_arch", str, among(NATMOD_ARCHS, "natmod_arch")),
        Key("runtime", "port_board", str), Key("runtime", "romfs_address", int), Key("runner", "machine", str)),
        rules=(_qemu_args,)),
    # a real board on --port: architecture, clock and firmware are probed; [cpu] is optional
    "mpremote": Part(keys=(Key("cpu", "core", str, among(set(CORES) | {"unknown"}, "core"), optional=True),),
                     rules=(_probed_natmod_arch,)),
}
MICROPYTHON_RUNNER = Key("runner", "kind", str, among(set(MICROPYTHON_RUNNERS), "[runner] kind"))


def _micropython_board(data, path, where):
    """A board of [runtime] kind "micropython" (see MicroPythonBoard and boards/README.md)."""
    for table in MICROPYTHON_BOARD.tables:
        need(data, table, dict, where)
    name = _check_name(data, path, where)
    check_parts(data, [MICROPYTHON_BOARD, chosen(data, MICROPYTHON_RUNNER, MICROPYTHON_RUNNERS, where)], where)
    cpu = data.get("cpu", {})
    return MicroPythonBoard(name=name, description=data.get("description", ""), core=cpu.get("core", "unknown"),
                            fpu=cpu.get("fpu", "none"), clock_hz=int(cpu.get("clock_hz", 0)),
                            runner=dict(data["runner"]), path=path, runtime=dict(data["runtime"]))


def board_from_dict(data, path=Path("<dict>")):
    """Validate the parsed TOML and build a Board (the kit's firmware) or a MicroPythonBoard. Every check names
    the file and the key."""
    where = str(path)
    if isinstance(data.get("runtime"), dict) and data["runtime"].get("kind") == "micropython":
        return _micropython_board(data, path, where)
    if "runtime" in data and data["runtime"] != {"kind": "firmware"}:
        raise BoardDataError(f"{where}: [runtime] kind must be \"firmware\" or \"micropython\"")
    return _firmware_board(data, path, where)


def _check_stm32f4_pll(clock, clock_hz, where):
    """The PLL settings must produce clock_hz within the STM32F4's limits (RM0390 section 6.3.2)."""
    w = where + " [clock]"
    src = one_of(need(clock, "source", str, w), {"hsi", "hse", "hse-bypass"}, "clock source", where)
    f_in = need(clock, "source_hz", int, w)
    if src == "hsi" and f_in != 16_000_000:
        raise BoardDataError(f"{where}: HSI is 16 MHz")
    m, n, p, q = (need(clock, k, int, w) for k in ("pll_m", "pll_n", "pll_p", "pll_q"))
    if not 2 <= m <= 63 or not 50 <= n <= 432 or p not in (2, 4, 6, 8) or not 2 <= q <= 15:
        raise BoardDataError(f"{where}: PLL factors out of range (M 2..63, N 50..432, P 2/4/6/8, Q 2..15)")
    vco_in, vco = f_in / m, f_in / m * n
    if not 1e6 <= vco_in <= 2e6 or not 100e6 <= vco <= 432e6:
        raise BoardDataError(f"{where}: PLL input {vco_in / 1e6} MHz (1-2) or VCO {vco / 1e6} MHz (100-432) "
                             "out of range")
    if vco / p != clock_hz:
        raise BoardDataError(f"{where}: PLL gives {vco / p:.0f} Hz but [cpu] clock_hz is {clock_hz}")
    for key, limit in (("ahb_div", None), ("apb1_div", 45_000_000), ("apb2_div", 90_000_000)):
        div = need(clock, key, int, w)
        allowed = {1, 2, 4, 8, 16, 64, 128, 256, 512} if key == "ahb_div" else {1, 2, 4, 8, 16}
        one_of(div, allowed, key, where)
        bus_hz = clock_hz // clock["ahb_div"] // div
        if limit and bus_hz > limit:
            raise BoardDataError(f"{where}: {key} gives {bus_hz} Hz, above {limit}")
    if not 0 <= need(clock, "flash_latency", int, w) <= 15:
        raise BoardDataError(f"{where}: flash_latency 0..15")


# --- generated build inputs --------------------------------------------------------------------------------

def _c_ident(text):
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


def board_config_h(board):
    """`board_config.h`: every board fact the firmware uses, as macros (the C never hard-codes them)."""
    u, c = board.uart, board.clock
    defs = [
        ("BOARD_NAME", f'"{board.name}"'),
        ("BOARD_CPU_CLOCK_HZ", f"{board.clock_hz}u"),
        ("BOARD_COUNTER_HZ", f"{board.counter_hz}u"),
        ("BOARD_HAS_FPU", int(board.has_fpu)),
        ("BOARD_COUNTER_" + board.counter.upper(), 1),
        ("BOARD_COUNTER_UNIT", f"PROTO_COUNTER_{board.counter_unit.upper()}"),
        ("BOARD_UART_BASE", f"0x{u['base']:08X}u"),
        ("BOARD_UART_BAUD", f"{u['baud']}u"),
        ("BOARD_UART_CLOCK_HZ", f"{board.uart_clock_hz}u"),
        ("BOARD_UART_IRQ", f"{u['irq']}u"),
    ]
    if "tx_pin" in u:
        if isinstance(u["tx_pin"], str):     # STM32 "PA2": port index and pin number
            for key in ("tx_pin", "rx_pin"):
                defs.append((f"BOARD_UART_{key.upper()}_PORT", ord(u[key][1]) - ord("A")))
                defs.append((f"BOARD_UART_{key.upper()}_NUM", int(u[key][2:])))
            defs.append(("BOARD_UART_AF", u["af"]))
            reg, _, bit = u["rcc_enable"].partition(":")
            defs.append(("BOARD_UART_RCC_ENR_OFFSET", f"0x{STM32_RCC_REGS[reg]:02X}u"))
            defs.append(("BOARD_UART_RCC_ENR_BIT", int(bit)))
        else:
            defs += [("BOARD_UART_TX_PIN", u["tx_pin"]), ("BOARD_UART_RX_PIN", u["rx_pin"])]
    if board.interrupts.get("controller") == "plic":
        defs += [("BOARD_PLIC_BASE", f"0x{board.interrupts['base']:08X}u"),
                 ("BOARD_PLIC_CONTEXT", f"{board.interrupts['context']}u")]
    if c["family"] == "stm32f4-pll":
        defs += [("BOARD_CLOCK_SOURCE_" + _c_ident(c["source"]), 1),
                 ("BOARD_PLL_M", c["pll_m"]), ("BOARD_PLL_N", c["pll_n"]),
                 ("BOARD_PLL_P", c["pll_p"]), ("BOARD_PLL_Q", c["pll_q"]),
                 ("BOARD_AHB_DIV", c["ahb_div"]), ("BOARD_APB1_DIV", c["apb1_div"]),
                 ("BOARD_APB2_DIV", c["apb2_div"]), ("BOARD_FLASH_LATENCY", c["flash_latency"]),
                 ("BOARD_OVERDRIVE", int(c.get("overdrive", False)))]
    source = board.path.relative_to(PACKAGE_ROOT) if board.path.is_relative_to(PACKAGE_ROOT) else board.path
    lines = [f"/* GENERATED by host/device/boards.py from {source}:"
             " do not edit. */",
             "#ifndef TINYRNN_BOARD_CONFIG_H", "#define TINYRNN_BOARD_CONFIG_H", "",
             '#include "protocol_ids.h"', ""]
    lines += [f"#define {name} {value}" for name, value in defs]
    lines += ["", "#endif", ""]
    return "\n".join(lines)


def linker_script(board, unbounded=False):
    """The board's linker script from the one template. `unbounded` gives both regions room enough to link
    anything, so that a build that does not fit can still be measured and the refusal can say by how much."""
    flash_size = UNBOUNDED_SIZE if unbounded else board.flash_size
    ram_size = UNBOUNDED_SIZE if unbounded else board.ram_size
    template = string.Template(LINKER_TEMPLATES[board.family].read_text())
    return template.substitute(
        BOARD=board.name, FLASH_ORIGIN=f"0x{board.flash_origin:08X}", FLASH_SIZE=f"0x{flash_size:08X}",
        RAM_ORIGIN=f"0x{board.ram_origin:08X}", RAM_SIZE=f"0x{ram_size:08X}",
        STACK_SIZE=f"0x{board.stack_size:X}")


def board_mk(board):
    """`board.mk`: the make variables the firmware Makefile includes."""
    return "\n".join([
        f"# GENERATED by host/device/boards.py for {board.name}: do not edit.",
        f"BOARD_CROSS := {board.cross}",
        f"BOARD_CPU_FLAGS := {' '.join(board.cpu_flags())}",
        f"BOARD_PLATFORM_SRCS := {' '.join(board.platform_sources())}",
        "",
    ])


def generate(board, outdir):
    """Write board_config.h, link.ld, link_unbounded.ld and board.mk into outdir (only if changed, so make
    does not rebuild needlessly)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = {"board_config.h": board_config_h(board), "link.ld": linker_script(board),
             "link_unbounded.ld": linker_script(board, unbounded=True), "board.mk": board_mk(board)}
    for fname, text in files.items():
        target = outdir / fname
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    return [outdir / f for f in files]
