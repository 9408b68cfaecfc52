"""The bench's cycle estimate (quantize/toolchain/cycles.py) and stack high-water mark: the timing table prices
what it says it prices, and a profiled bench run reports both beside its instruction count."""

import pytest

from tinyrnn.quantize.toolchain import build, cycles

pytestmark = pytest.mark.toolchain


@pytest.mark.parametrize("core, mnemonic, operands, taken, expected", [
    ("m4", "smlald", "r1, r2, r8, r4", False, 1),
    ("m3", "smlal", "r4, r5, r8, r6", False, 5),      # M3: long multiplies 3..7, priced 5
    ("m4", "smlal", "r4, r5, r8, r6", False, 1),
    ("m4", "mla", "r4, r6, r4, r11", False, 2),
    ("m4", "ldr", "r7, [r9, r6, lsl #2]", False, 2),
    ("m4", "ldrd", "r4, r5, [r12], #8", False, 3),
    ("m4", "ldmia", "r11!, {r8, r9}", False, 3),
    ("m4", "ldmia", "r12!, {r4, r5, r6, r7}", False, 5),
    ("m4", "ldr", "pc, [sp, #28]", True, 4),            # a load to the PC refills the pipeline
    ("m4", "bne", "4c <x>", True, 3),
    ("m4", "bne", "4c <x>", False, 1),
    ("m4", "pop", "{r4, r5, r6, r7, r8, r9, r10, r11, pc}", True, 12),
    ("m0", "muls", "r4, r2", False, 1),
    ("m0", "ldr", "r5, [r0, #8]", False, 2),
    ("m0", "bne", "4c <x>", True, 3),
    ("m0", "bl", "4c <x>", True, 4),
    ("m0", "push", "{r4, r5, r6, r7, lr}", False, 6),
])
def test_instruction_cycles(core, mnemonic, operands, taken, expected):
    assert cycles.instruction_cycles(core, mnemonic, operands, taken) == expected


def test_estimate_adds_taken_branches_and_wait_states():
    code = {0: ("adds", "r0, #1"), 2: ("bne", "0 <loop>"), 4: ("bx", "lr")}
    counts, taken = {0: 10, 2: 10, 4: 1}, {2: 9, 4: 1}
    assert cycles.estimate("m4", counts, taken, code) == 10 + 9 * 3 + 1 + 3
    assert cycles.estimate("m4", counts, taken, code, wait_states=1) == 10 + 9 * 3 + 1 + 3 + 21
    with pytest.raises(ValueError):
        cycles.estimate("m7", counts, taken, code)


@pytest.mark.skipif(not build.arm_toolchain_available(), reason="arm-none-eabi-gcc not installed")
def test_profiled_bench_reports_stack_and_cycle_estimate(tmp_path):
    pytest.importorskip("unicorn")
    from tinyrnn.quantize.toolchain.bench import measure
    row = measure("gru", 6, 8, "m4", tmp_path, steps=2, profile=True)
    assert 100 < row["stack_bytes"] < 2048
    assert row["instructions_per_step"] < row["cycles_per_step_estimate"] < 3 * row["instructions_per_step"]


@pytest.mark.fast
def test_the_table_names_the_core_its_sizes_come_from_and_only_measured_cores():
    from tinyrnn.quantize.toolchain.bench import markdown
    row = {"cell": "gru", "d": 6, "h": 32, "macs": 3776, "instructions_per_step": 16000, "instructions_per_mac": 4.24,
           "stack_bytes": 464, "code_bytes": 7341, "table_bytes": 5122, "model_bytes": 5968}
    table = markdown([dict(row, target="rv32")])
    assert "| RV32 instr/step (/MAC) | RV32 stack | RV32 code |" in table and "M0" not in table and "M4" not in table
    both = markdown([dict(row, target="rv32"), dict(row, target="m4", stack_bytes=400)])
    assert "| M4 stack | M4 code |" in both and "| 400 B |" in both
