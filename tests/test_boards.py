"""Board data: every board.toml loads, bad ones are refused with the key named, and the generated build
inputs (linker scripts, board_config.h, board.mk) say what the data says."""

import copy
import re
import tomllib

import pytest

from tinyrnn.host.device import boards
from tinyrnn.host.device.boards import board_from_dict, load_board
from tinyrnn.host.defaults import DEFAULT_BOARD
from tinyrnn.quantize.errors import BoardDataError

pytestmark = pytest.mark.fast

EMULATED = ["qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-microbit", "qemu-netduinoplus2",
            "qemu-riscv32-virt"]
REAL = ["nrf52840-dk", "nucleo-f446re"]


def raw(name):
    return tomllib.loads((boards.BOARDS_DIR / name / "board.toml").read_text())


def test_all_boards_present_and_valid():
    assert set(boards.board_names()) >= set(EMULATED + REAL)
    for name in boards.board_names():
        b = load_board(name)
        assert b.name == name
        assert b.emulated == (name in EMULATED) or name not in EMULATED + REAL


def test_real_boards_have_readme():
    for name in REAL:
        text = (boards.BOARDS_DIR / name / "README.md").read_text()
        assert "flash" in text.lower() and "wir" in text.lower()


def test_default_board_is_the_m4f():
    b = load_board(DEFAULT_BOARD)
    assert (b.core, b.fpu, b.counter_unit) == ("cortex-m4", "fpv4-sp-d16", "instructions")


def test_counter_units_follow_the_runner():
    assert load_board("nucleo-f446re").counter_unit == "cycles"
    assert load_board("qemu-netduinoplus2").counter_unit == "instructions"


def test_nucleo_clock_tree():
    b = load_board("nucleo-f446re")
    assert b.clock_hz == 168_000_000
    assert b.uart_clock_hz == 42_000_000                  # APB1 = 168 MHz / 4
    header = boards.board_config_h(b)
    assert "#define BOARD_UART_TX_PIN_PORT 0" in header and "#define BOARD_UART_TX_PIN_NUM 2" in header
    assert "#define BOARD_UART_AF 7" in header and "#define BOARD_UART_RCC_ENR_OFFSET 0x40u" in header
    assert "#define BOARD_CPU_CLOCK_HZ 168000000u" in header


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["cpu"].pop("clock_hz"), "missing 'clock_hz'"),
    (lambda d: d["cpu"].update(core="cortex-m33"), "core"),
    (lambda d: d["cpu"].update(fpu="fpv5-d16"), "does not exist on cortex-m4"),
    (lambda d: d["cpu"].update(clock_hz="fast"), "must be int"),
    (lambda d: d["clock"].update(pll_n=180), "PLL gives 180000000 Hz"),
    (lambda d: d["clock"].update(apb1_div=2), "apb1_div"),
    (lambda d: d["clock"].update(ahb_div=2, apb1_div=1), "apb1_div gives 84000000 Hz, above 45000000"),
    (lambda d: d["uart"].update(tx_pin="PZ2"), "tx_pin"),
    (lambda d: d["uart"].update(family="pl011"), "uart family"),
    (lambda d: d["memory"].update(stack_size=3), "multiple of 4"),
    (lambda d: d["runner"].pop("pyocd_target"), "pyocd_target"),
])
def test_bad_real_board_is_refused(mutate, message):
    assert_refused("nucleo-f446re", mutate, message)


def assert_refused(board_name, change, message):
    """The board's data with `change` applied is refused with an error containing `message`."""
    data = copy.deepcopy(raw(board_name))
    change(data)
    with pytest.raises(BoardDataError, match=re.escape(message)):
        board_from_dict(data)


def _clock_180(data, overdrive, flash_latency=5):
    """The Nucleo at 180 MHz: HSI/8 x 180 / 2, APB1 45 MHz, APB2 90 MHz."""
    data["cpu"]["clock_hz"] = 180_000_000
    data["clock"].update(pll_n=180, flash_latency=flash_latency, **({"overdrive": overdrive} if overdrive else {}))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: _clock_180(d, overdrive=False), "HCLK 180000000 Hz needs over-drive"),
    (lambda d: d["clock"].update(flash_latency=4), "flash_latency 4 is wrong for HCLK 168000000 Hz: it needs 5"),
    (lambda d: d["clock"].update(flash_latency=7), "flash_latency 7 is wrong for HCLK 168000000 Hz: it needs 5"),
    (lambda d: (d["cpu"].update(clock_hz=84_000_000), d["clock"].update(pll_p=4, apb1_div=2, apb2_div=1)),
     "it needs 2 wait states"),
    (lambda d: d["clock"].update(overdrive="yes"), "'overdrive' must be bool"),
])
def test_f446_clock_needs_overdrive_and_the_right_wait_states(mutate, message):
    """RM0390: over-drive above 168 MHz; Table 5's wait states per HCLK band (edited board data is refused)."""
    assert_refused("nucleo-f446re", mutate, message)


def test_f446_at_180_mhz_with_overdrive_is_accepted():
    data = copy.deepcopy(raw("nucleo-f446re"))
    _clock_180(data, overdrive=True)
    board = board_from_dict(data)
    assert "#define BOARD_OVERDRIVE 1" in boards.board_config_h(board)
    assert "#define BOARD_OVERDRIVE 0" in boards.board_config_h(load_board("nucleo-f446re"))


def test_emulated_board_cannot_claim_dwt():
    assert_refused("qemu-mps2-an386", lambda d: d["cpu"].update(counter="dwt"), "QEMU emulates no DWT")


def test_m0_has_no_dwt():
    assert_refused("qemu-microbit", lambda d: d["cpu"].update(counter="dwt"), "Cortex-M0 has no DWT")


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardDataError, match="qemu-mps2-an386"):
        load_board("no-such-board")


def test_board_error_is_a_tool_error():
    from tinyrnn.quantize.errors import TinyRNNError
    assert issubclass(BoardDataError, TinyRNNError) and issubclass(BoardDataError, ValueError)


def test_default_model_is_what_train_writes_by_default():
    from tinyrnn.host import defaults
    from tinyrnn.host.commands import train as train_command
    from tinyrnn.host.commands.base import make_parser
    from tinyrnn.host.training import pipeline
    args = make_parser(train_command, "tinyrnn train").parse_args([])
    out = pipeline.default_out_dir(pipeline.DEFAULT_DATASET, None, args.cell, args.units)
    assert defaults.DEFAULT_MODEL == out and not out.is_absolute()     # both relative to the current directory


def test_a_new_board_of_a_known_family_is_data_only(tmp_path):
    data = raw("nucleo-f446re")
    data["name"] = "my-f446-board"
    data["uart"].update(base=0x40011000, rcc_enable="APB2ENR:4", bus="apb2", tx_pin="PA9", rx_pin="PA10")
    b = board_from_dict(data)
    assert b.uart_clock_hz == 84_000_000
    assert b.platform_sources() == load_board("nucleo-f446re").platform_sources()


def test_linker_script_from_board_data():
    b = load_board("qemu-netduinoplus2")
    script = boards.linker_script(b)
    assert "ORIGIN = 0x08000000, LENGTH = 0x00100000" in script
    assert "ORIGIN = 0x20000000, LENGTH = 0x00020000" in script
    assert f". = . + 0x{b.stack_size:X};" in script and "__flash_used" in script and "__ram_used" in script
    assert "${" not in script
    unbounded = boards.linker_script(b, unbounded=True)
    assert f"LENGTH = 0x{boards.UNBOUNDED_SIZE:08X}" in unbounded
    # only the region lengths differ: the same addresses, so the measured image is the real one
    def strip(s):
        return re.sub(r"LENGTH = 0x[0-9A-F]+", "", s)
    assert strip(script) == strip(unbounded)


def test_the_stack_is_sized_from_the_measured_figure_unless_the_board_sets_it(tmp_path):
    """firmware/stack.toml: measured high-water mark of the family and kernel path + margin, up to 64 B."""
    for name, key in [("qemu-mps2-an386", "cortexm-dsp"), ("qemu-microbit", "cortexm-m0"),
                      ("qemu-mps2-an385", "cortexm-c"), ("qemu-riscv32-virt", "riscv-rv32")]:
        b = load_board(name)
        measured, margin = boards.stack_measured(*key.split("-"))
        assert b.stack_override == 0 and b.stack_size % 64 == 0
        assert measured + margin <= b.stack_size < measured + margin + 64
    data = tomllib.loads((boards.BOARDS_DIR / "qemu-microbit" / "board.toml").read_text())
    data["memory"]["stack_size"] = 0x1000
    assert boards.board_from_dict(data).stack_size == 0x1000


def test_cpu_flags():
    assert load_board("qemu-mps2-an500").cpu_flags() == ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16",
                                                         "-mfloat-abi=hard"]
    assert load_board("qemu-microbit").cpu_flags() == ["-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"]


def test_generate_writes_all_inputs(tmp_path):
    files = boards.generate(load_board("qemu-microbit"), tmp_path)
    assert sorted(f.name for f in files) == ["board.mk", "board_config.h", "link.ld", "link_unbounded.ld"]
    mk = (tmp_path / "board.mk").read_text()
    assert "platform/uart/nrf_uart.c" in mk and "platform/counter/systick.c" in mk
    assert "#define BOARD_UART_TX_PIN 24" in (tmp_path / "board_config.h").read_text()


def test_riscv_board_is_its_family():
    b = load_board("qemu-riscv32-virt")
    assert (b.family, b.cross, b.qemu_binary) == ("riscv", "riscv64-unknown-elf-", "qemu-system-riscv32")
    assert b.cpu_flags() == ["-march=rv32imc", "-misa-spec=2.2", "-mabi=ilp32"]
    assert (b.counter, b.counter_unit, b.counter_hz) == ("minstret", "instructions", 1_000_000_000)
    assert b.platform_sources() == ["platform/riscv/startup.c", "platform/reset.c", "platform/libc_min.c",
                                    "platform/uart/ns16550.c",
                                    "platform/clock/clock_none.c", "platform/counter/minstret.c"]
    header = boards.board_config_h(b)
    for line in ("BOARD_UART_BASE 0x10000000u", "BOARD_UART_CLOCK_HZ 3686400u", "BOARD_UART_IRQ 10u",
                 "BOARD_PLIC_BASE 0x0C000000u", "BOARD_PLIC_CONTEXT 0u", "BOARD_COUNTER_HZ 1000000000u"):
        assert f"#define {line}" in header
    assert "riscv64-unknown-elf-" in boards.board_mk(b)
    assert "ENTRY(_start)" in boards.linker_script(b) and "ORIGIN = 0x80400000" in boards.linker_script(b)
    from tinyrnn.host.device.qemu import qemu_command
    cmd = qemu_command(b, "app.elf")
    assert cmd[:3] == ["qemu-system-riscv32", "-M", "virt"] and cmd[-2:] == ["-bios", "none"]


def test_a_second_riscv_board_is_data_only():
    """Another SoC of the family (its own UART address, PLIC, interrupt source, memory): no C changes, only
    its board.toml."""
    data = raw("qemu-riscv32-virt")
    data["name"] = "my-rv32-soc"
    data["cpu"]["core"] = "rv32imac"
    data["uart"].update(base=0x6000_0000, irq=21, clock_hz=40_000_000)
    data["interrupts"].update(base=0x2000_0000, context=1)
    data["memory"].update(flash_origin=0x4200_0000, flash_size=0x40_0000, ram_origin=0x3FC8_0000, ram_size=0x6_0000)
    b = board_from_dict(data)
    assert b.platform_sources() == load_board("qemu-riscv32-virt").platform_sources()
    header = boards.board_config_h(b)
    assert "#define BOARD_PLIC_BASE 0x20000000u" in header and "#define BOARD_UART_IRQ 21u" in header
    assert b.cpu_flags()[0] == "-march=rv32imac"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["cpu"].update(counter="systick"), "counter 'systick' does not exist on rv32imc"),
    (lambda d: d.pop("interrupts"), "missing 'interrupts'"),
    (lambda d: d["uart"].update(irq=0), "PLIC source 1..1023"),
    (lambda d: d["uart"].pop("clock_hz"), "missing 'clock_hz'"),
    (lambda d: d["runner"].update(args="-bios none"), "args must be a list of strings"),
])
def test_bad_riscv_data_names_the_key(change, message):
    assert_refused("qemu-riscv32-virt", change, message)


def test_micropython_riscv_board():
    """MicroPython's qemu port on RISC-V virt: the riscv family's emulator with the board's own arguments, the
    rv32imc natmod, in `tinyrnn hwtest`'s default set."""
    b = load_board("mpy-qemu-riscv32-virt")
    assert b.micropython and b.emulated and b.hwtest_default
    assert (b.family, b.qemu_binary, b.runtime["natmod_arch"]) == ("riscv", "qemu-system-riscv32", "rv32imc")
    from tinyrnn.host.device.qemu import qemu_command
    cmd = qemu_command(b, "firmware.elf")
    assert cmd[:3] == ["qemu-system-riscv32", "-M", "virt"] and cmd[-2:] == ["-bios", "none"]
    from tinyrnn.host.device.targets import load_target
    assert "counter = mtime" in load_target(b.name).describe()       # its ticks_us() reads the time CSR


@pytest.mark.parametrize("change, message", [
    (lambda d: d["runner"].update(args="-bios none"), "args must be a list of strings"),
    (lambda d: d["runtime"].update(natmod_arch="rv64imc"), "natmod_arch"),
])
def test_bad_micropython_riscv_data_names_the_key(change, message):
    assert_refused("mpy-qemu-riscv32-virt", change, message)


def test_cortexm_has_no_minstret():
    assert_refused("qemu-mps2-an386", lambda d: d["cpu"].update(counter="minstret"), "does not exist on cortex-m4")


def test_boards_show_says_where_the_stack_size_comes_from():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "boards", "show", "qemu-mps2-an386"],
                         capture_output=True, text=True, check=True).stdout
    measured, margin = boards.stack_measured("cortexm", "dsp")
    assert "kernel_path = dsp" in out
    assert f"stack_size = {load_board('qemu-mps2-an386').stack_size} (firmware/stack.toml: measured {measured} " \
           f"+ margin {margin}, rounded up to 64)" in out
