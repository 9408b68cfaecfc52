"""Every board's firmware builds warning-free (-Wall -Wextra -Werror) against a model, and a model that
does not fit is refused with what it needs and what the board has. Needs arm-none-eabi-gcc: CI installs it,
so its absence is a failure here, not a skip."""

import json
import shutil
import subprocess
import sys

import pytest

from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.quantize.sources import FIRMWARE_DIR
from tinyrnn.host.device.build_lock import build_lock
from tinyrnn.host.device.firmware import firmware_dir, model_key

pytestmark = pytest.mark.emulator


def make(board, build_dir, model=None):
    cmd = ["make", "-C", str(FIRMWARE_DIR), f"BOARD={board}", f"BUILD_DIR={build_dir}"]
    if model:
        cmd.append(f"MODEL={model}")
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def toolchain():
    assert shutil.which("arm-none-eabi-gcc"), "arm-none-eabi-gcc is required (apt-get install gcc-arm-none-eabi)"


def synthetic_model(directory, **kwargs):
    from tinyrnn.quantize.emit.export import export
    from tinyrnn.quantize.reference.synthetic import make_artifact
    make_artifact(directory, n=2, steps=8, **kwargs)
    export(directory, progress=False)
    return directory


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return synthetic_model(tmp_path_factory.mktemp("models") / "synth-gru16")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fw")


def symbol(elf, name):
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[-1] == name:
            return int(parts[0], 16)
    raise KeyError(name)


@pytest.mark.parametrize("board_name", [n for n in board_names() if not load_board(n).micropython])
def test_board_builds_warning_free_with_a_model(toolchain, model, build_dir, board_name):
    proc = make(board_name, build_dir, model)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in (proc.stdout + proc.stderr).lower()
    board = load_board(board_name)
    out = build_dir / board_name / model_key(model)
    elf = out / "app.elf"
    assert elf.is_file()
    first = "vector_table" if board.family == "cortexm" else "_start"   # Cortex-M reads it at reset; RISC-V jumps there
    assert symbol(elf, first) == board.flash_origin
    assert symbol(elf, "__stack_top") <= board.ram_origin + board.ram_size
    # the stack first in RAM, .data and .bss above it: an overflow runs off RAM's edge (RISC-V: into the PMP guard)
    guard = 64 if board.family == "riscv" else 0
    assert symbol(elf, "__stack_bottom") == board.ram_origin + guard
    assert symbol(elf, "__stack_top") <= symbol(elf, "__data_start") <= symbol(elf, "__bss_start")
    size = json.loads((out / "size.json").read_text())
    assert 0 < size["flash_bytes"] <= board.flash_size and 0 < size["ram_bytes"] <= board.ram_size
    assert f"{board_name} / {model.name} ({model_key(model)}): firmware flash" in proc.stdout       # the size report
    if board.has_fpu:   # CPACR is enabled in the reset handler, before any FP instruction can run
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
        reset = dis.split("<Reset_Handler>:")[1].split("\n\n")[0]
        assert "e000ed88" in reset.lower()


@pytest.mark.parametrize("board_name", ["qemu-microbit", "nucleo-f446re"])
def test_bring_up_firmware_builds_without_a_model(toolchain, build_dir, board_name):
    proc = make(board_name, build_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (build_dir / board_name / model_key(None) / "app.elf").is_file()


def test_model_too_big_is_refused_with_sizes(toolchain, tmp_path, build_dir):
    big = synthetic_model(tmp_path / "synth-big", units=192, layers=2)
    proc = make("qemu-microbit", build_dir, big)
    assert proc.returncode != 0
    message = [line for line in proc.stderr.splitlines() if "does not fit" in line]
    assert message, proc.stderr
    assert f"model synth-big ({model_key(big)}) does not fit qemu-microbit: flash" in message[0]
    assert "B needed, board has 262,144 B" in message[0]
    assert not (build_dir / "qemu-microbit" / model_key(big) / "app.elf").exists()


def test_unknown_board_and_missing_model_are_clear(toolchain, build_dir, tmp_path):
    proc = make("no-such-board", build_dir)
    assert proc.returncode != 0 and "unknown board 'no-such-board'" in proc.stderr
    proc = make("qemu-mps2-an386", build_dir, tmp_path / "empty")
    assert proc.returncode != 0 and "tinyrnn export" in proc.stderr


def test_same_model_from_another_directory_builds_after_the_first_is_gone(toolchain, model, tmp_path):
    """The output directory is keyed on the model hash; a moved (or re-trained identical) artifact must not trip
    over dependency files that name the old path."""
    first = shutil.copytree(model, tmp_path / "first")
    assert make("qemu-mps2-an386", tmp_path / "fw", first).returncode == 0
    second = shutil.copytree(first, tmp_path / "second")
    shutil.rmtree(first)
    (second / "c" / "model_data.c").touch()                  # newer than the object: make must rebuild it
    proc = make("qemu-mps2-an386", tmp_path / "fw", second)
    assert proc.returncode == 0, proc.stderr


def _function(elf, name):
    """The disassembly of one function (objdump -d), literal pool words included."""
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    return dis.split(f"<{name}>:")[1].split("\n\n")[0].lower()


def _writes_of(elf, function, flash_origin, on_write=None, on_read=None):
    """Run `function` of a Cortex-M4 image in unicorn until it returns -> [(address, value)] of its stores to
    peripherals (0x40000000 and up). `on_write(uc, address, value)` and `on_read(uc, address)` (called before the
    access: the store itself lands after its hook) may model the hardware's answer."""
    unicorn = pytest.importorskip("unicorn")
    from unicorn import arm_const
    image = elf.with_suffix(".bin")
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(image)], check=True)
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M4)
    uc.mem_map(flash_origin, 0x100000)
    uc.mem_write(flash_origin, image.read_bytes())
    uc.mem_map(0x20000000, 0x40000)
    uc.mem_map(0x40000000, 0x80000)
    uc.mem_map(0x10000000, 0x2000)
    writes = []

    def store(uc, access, address, size, value, data):
        writes.append((address, value))
        if on_write:
            on_write(uc, address, value)
    uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, store, begin=0x40000000, end=0x4FFFFFFF)
    if on_read:
        uc.hook_add(unicorn.UC_HOOK_MEM_READ, lambda uc, access, address, size, value, data: on_read(uc, address),
                    begin=0x40000000, end=0x4FFFFFFF)
    done = 0x20030000
    uc.reg_write(arm_const.UC_ARM_REG_SP, 0x20020000)
    uc.reg_write(arm_const.UC_ARM_REG_LR, done | 1)
    uc.emu_start(symbol(elf, function) | 1, done, count=100_000)
    return writes


def test_nrf52840_opens_its_debug_port_and_turns_its_cache_on(toolchain, build_dir):
    """nRF52840 from build code F0 on: APPROTECT.DISABLE = 0x5A (0x40000558) first thing, or the debug port locks
    again at every reset; NVMC ICACHECNF.CACHEEN (0x4001E540) on, or cycle counts are pessimistic. The image's own
    clock_init run in unicorn (the crystal answering at once), and clock_init is main's first call."""
    proc = make("nrf52840-dk", build_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    elf = build_dir / "nrf52840-dk" / model_key(None) / "app.elf"

    def crystal(uc, address, value):
        if address == 0x40000000 and value == 1:                  # TASKS_HFCLKSTART -> EVENTS_HFCLKSTARTED
            uc.mem_write(0x40000100, (1).to_bytes(4, "little"))
    writes = _writes_of(elf, "clock_init", 0x0, crystal)
    assert writes[0] == (0x40000558, 0x5A)
    assert (0x4001E540, 1) in writes
    main = _function(elf, "main")
    assert main.split("bl\t")[1].split()[1] == "<clock_init>"


def _f446_clock_writes(tmp_path, clock_hz, overdrive):
    """The F446 clock driver built for edited board data (`clock_hz` from HSI/8 x N/2) and run in unicorn, the
    RCC, PWR and flash interface answering as ready at once -> its peripheral stores in order."""
    import copy
    import tomllib
    from tinyrnn.host.device.boards import BOARDS_DIR, board_from_dict, generate
    data = copy.deepcopy(tomllib.loads((BOARDS_DIR / "nucleo-f446re" / "board.toml").read_text()))
    data["cpu"]["clock_hz"] = clock_hz
    data["clock"].update(pll_n=clock_hz // 1_000_000, **({"overdrive": True} if overdrive else {}))
    generate(board_from_dict(data), tmp_path / "gen")
    elf = tmp_path / "clock.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-ffreestanding", "-nostdlib",
                    "-Wall", "-Wextra", "-Werror", "-Wl,-Ttext=0x08000000", "-Wl,-e,clock_init",
                    f"-I{tmp_path / 'gen'}", f"-I{FIRMWARE_DIR / 'platform'}", f"-I{FIRMWARE_DIR / 'app'}",
                    str(FIRMWARE_DIR / "platform" / "clock" / "stm32f4_pll.c"), "-o", str(elf)], check=True)
    # a ready flag set as its enable bit is read back: RCC_CR PLLON -> PLLRDY, PWR_CR ODEN/ODSWEN -> PWR_CSR
    # ODRDY/ODSWRDY, RCC_CFGR SW = PLL -> SWS = PLL
    def word(uc, address):
        return int.from_bytes(uc.mem_read(address, 4), "little")

    def answer(uc, address):
        if address == 0x40023800 and word(uc, address) & (1 << 24):
            uc.mem_write(address, (word(uc, address) | 1 << 25).to_bytes(4, "little"))
        elif address == 0x40007004:
            uc.mem_write(address, (word(uc, 0x40007000) & (3 << 16)).to_bytes(4, "little"))
        elif address == 0x40023808 and word(uc, address) & 3 == 2:
            uc.mem_write(address, (word(uc, address) | 2 << 2).to_bytes(4, "little"))
    return _writes_of(elf, "clock_init", 0x08000000, on_read=answer)


def test_f446_clock_enables_overdrive_only_when_its_board_asks(toolchain, tmp_path):
    """RM0390 5.1.4: at 180 MHz, after the PLL is on and before SYSCLK switches to it, ODEN then ODSWEN; at 168 MHz
    the over-drive bits are never touched."""
    ODEN, ODSWEN = 1 << 16, 1 << 17
    writes = _f446_clock_writes(tmp_path / "180", 180_000_000, overdrive=True)
    pwr = [value for address, value in writes if address == 0x40007000]
    assert any(v & ODEN and not v & ODSWEN for v in pwr) and any(v & ODEN and v & ODSWEN for v in pwr)
    order = [(address, value) for address, value in writes if address in (0x40007000, 0x40023800, 0x40023808)]
    pll_on = next(i for i, (a, v) in enumerate(order) if a == 0x40023800 and v & (1 << 24))
    od_on = next(i for i, (a, v) in enumerate(order) if a == 0x40007000 and v & ODEN)
    od_switch = next(i for i, (a, v) in enumerate(order) if a == 0x40007000 and v & ODSWEN)
    sysclk_pll = next(i for i, (a, v) in enumerate(order) if a == 0x40023808 and v & 3 == 2)
    assert pll_on < od_on < od_switch < sysclk_pll
    writes = _f446_clock_writes(tmp_path / "168", 168_000_000, overdrive=False)
    assert not any(value & (ODEN | ODSWEN) for address, value in writes if address == 0x40007000)


def test_a_build_waits_for_another_process_building_the_same_firmware(toolchain, model, tmp_path, monkeypatch):
    """Two processes building one board's firmware for one model (hwtest in one terminal, flash in another; two test
    workers) would run two makes in one folder: the second waits for the first, says so, then builds (or finds the
    first one's output fresh)."""
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    out = firmware_dir("qemu-mps2-an386", model)
    script = ("from tinyrnn.host.device.boards import load_board; from tinyrnn.host.device.firmware import build; "
              f"print(build(load_board('qemu-mps2-an386'), {str(model)!r}))")
    with build_lock(out):
        second = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        said = second.stderr.readline()         # blocks until it says something, or ends
        assert said.startswith("waiting for another process building the qemu-mps2-an386 firmware"), \
            said + second.stderr.read()
        assert second.poll() is None and not (out / "app.elf").exists()
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == str(out / "app.elf") and (out / "app.elf").is_file()
