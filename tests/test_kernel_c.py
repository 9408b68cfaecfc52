"""The C kernels against their Python twin: bit-exact on every cell, depth and head, with real-ish,
random, saturating and long inputs and adversarial weights; strict builds for every Cortex-M target,
with no floating point anywhere."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from tinyrnn.quantize import targets
from tinyrnn.quantize.sources import SEGMENT_TABLES_SOURCE, kernel_sources
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.emit import asm_layout
from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.twin.params import CELL_IDS, HEAD_IDS
from tinyrnn.quantize.toolchain.cases import extreme_params, input_sets, make_model, twin_states
from tinyrnn.quantize.twin.cells import TwinModel, state_words

pytestmark = pytest.mark.toolchain

# (name, make_artifact keyword arguments): every cell, 1-3 layers, both heads, odd sizes (padding)
CONFIGS = [
    ("gru_ra_1_cls", dict(cell="gru", reset_after=True, d=6, units=16, k=4, layers=1)),
    ("gru_ra_3_reg", dict(cell="gru", reset_after=True, d=5, units=10, k=3, layers=3, task="regression")),
    ("gru_rb_1_reg", dict(cell="gru", reset_after=False, d=3, units=13, k=2, layers=1, task="regression")),
    ("gru_rb_2_cls", dict(cell="gru", reset_after=False, d=12, units=32, k=9, layers=2)),
    ("lstm_1_cls", dict(cell="lstm", d=6, units=16, k=4, layers=1)),
    ("lstm_2_reg", dict(cell="lstm", d=7, units=9, k=1, layers=2, task="regression")),
    ("lstm_3_cls", dict(cell="lstm", d=12, units=20, k=5, layers=3)),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernel_c")


def _check_exact(twin: TwinModel, exe, x_q, workdir, label):
    y_c, state_c = build.run_host(exe, x_q, twin.params.output_dim, state_words(twin.params), workdir)
    y_twin, state_twin = twin_states(twin, x_q)
    mismatched = np.argwhere((y_c != y_twin).any(-1) | (state_c != state_twin).any(-1))
    assert mismatched.size == 0, f"{label}: {len(mismatched)} steps differ, first (seq, step) {mismatched[0]}"
    return x_q.shape[0] * x_q.shape[1]


@pytest.mark.parametrize("name,config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_c_matches_twin_bit_exact(workdir, name, config):
    art, twin = make_model(workdir, name, seed=len(name), **config)
    exe = build.build_host(art / "c", workdir / f"{name}_driver")
    steps = sum(_check_exact(twin, exe, x_q, workdir, f"{name}/{label}")
                for label, x_q in input_sets(twin, seed=3, long_steps=1500 if name.endswith("cls") else 300))
    assert steps >= 1500


@pytest.mark.parametrize("name,config", CONFIGS[::2], ids=[c[0] for c in CONFIGS[::2]])
def test_c_matches_twin_with_extreme_weights(workdir, name, config):
    """Full-scale +-127 rows, multipliers up to 2^31-1, large biases: saturated gates everywhere."""
    art, twin = make_model(workdir, name + "_x", seed=7, **config)
    twin = TwinModel(extreme_params(twin.params, seed=11))
    codegen.write_model(twin.params, art / "c", "extreme")
    exe = build.build_host(art / "c", workdir / f"{name}_x_driver")
    for label, x_q in input_sets(twin, seed=5, n=12, steps=40, long_steps=200):
        _check_exact(twin, exe, x_q, workdir, f"{name} extreme/{label}")


@pytest.mark.parametrize("name,config", [CONFIGS[1], CONFIGS[2], CONFIGS[5]], ids=["gru_ra", "gru_rb", "lstm"])
def test_sanitizers_clean(workdir, name, config):
    """AddressSanitizer + UBSan: no out-of-bounds read (padding!), no signed overflow, no bad shift."""
    art, twin = make_model(workdir, name + "_asan", seed=1, **config)
    exe = build.build_host(art / "c", workdir / f"{name}_asan_driver", sanitize=True)
    for label, x_q in input_sets(twin, seed=9, n=8, steps=30, long_steps=100):
        _check_exact(twin, exe, x_q, workdir, f"{name} asan/{label}")
    twin = TwinModel(extreme_params(twin.params, seed=2))
    codegen.write_model(twin.params, art / "c", "extreme")
    exe = build.build_host(art / "c", workdir / f"{name}_asanx_driver", sanitize=True)
    for label, x_q in input_sets(twin, seed=4, n=8, steps=30, long_steps=100):
        _check_exact(twin, exe, x_q, workdir, f"{name} asan extreme/{label}")


def test_activations_exhaustive(workdir):
    """Every Q14 input of the tables' ranges (and beyond), C versus twin."""
    from tinyrnn.quantize.twin import fixedpoint as fp
    src = workdir / "act.c"
    src.write_text(
        '#include <stdio.h>\n#include <stdlib.h>\n#include "tr_kernels.h"\n'
        "int main(void) {\n"
        "    static int32_t z[3][1 << 20];\n    int32_t i, n = 1 << 20;\n"
        "    for (i = 0; i < n; i++) { z[0][i] = z[1][i] = z[2][i] = i - n / 2 - 1000; }\n"
        "    tr_sigmoid_q15(z[0], n);\n    tr_tanh_q15(z[1], n);\n"
        "    for (i = 0; i < n; i++) { z[2][i] = tr_exp_neg_q15(z[2][i] - n / 2); }\n"
        "    fwrite(z, sizeof z, 1, stdout);\n    return 0;\n}\n")
    exe = workdir / "act"
    subprocess.run(["gcc", *build.STRICT_FLAGS, "-O2", f"-I{build.KERNELS_DIR}", src,
                    build.KERNELS_DIR / "tr_activation.c", build.KERNELS_DIR / "tr_tables.c",
                    SEGMENT_TABLES_SOURCE, "-o", exe], check=True)
    out = np.frombuffer(subprocess.run([exe], capture_output=True, check=True).stdout, dtype=np.int32)
    out = out.reshape(3, -1)
    z = np.arange(1 << 20, dtype=np.int64) - (1 << 19) - 1000
    assert (out[0] == fp.sigmoid_q15(z)).all()
    assert (out[1] == fp.tanh_q15(z)).all()
    assert (out[2] == fp.exp_neg_q15(z - (1 << 19))).all()


def test_enums_match_python():
    header = (build.KERNELS_DIR / "tinyrnn.h").read_text()
    c_values = {m[0]: int(m[1]) for m in re.findall(r"TINYRNN_(?:CELL|HEAD)_(\w+) = (\d+)", header)}
    assert {k.upper(): v for k, v in CELL_IDS.items()} == \
        {k: v for k, v in c_values.items() if k.startswith(("GRU", "LSTM"))}
    assert {k.upper(): v for k, v in HEAD_IDS.items()} == \
        {k: v for k, v in c_values.items() if k in ("SOFTMAX", "LINEAR")}


def test_tables_are_generated_text():
    assert (build.KERNELS_DIR / "tr_tables.c").read_text() == codegen.tables_source()
    assert (build.KERNELS_DIR / "tr_tables.h").read_text() == codegen.tables_header()
    assert SEGMENT_TABLES_SOURCE.read_text() == codegen.segment_tables_source()
    assert (build.KERNELS_DIR / f"{codegen.RV32_TABLES}.c").read_text() == codegen.rv32_tables_source()
    assert (build.KERNELS_DIR / f"{codegen.RV32_TABLES}.h").read_text() == codegen.rv32_tables_header()


def test_rv32_table_pairs_are_the_twins_lookup():
    """The RV32IM path's table form (c_code.segment_pairs: start', rise a segment, a lookup (start' + rise t) >> s):
    every word as the generator's formula has it, and its own checks refuse what would not be exact on a 32-bit
    core: a table whose start' + rise t leaves int32 (a planted case: the check must not pass it silently)."""
    from tinyrnn.quantize.twin import fixedpoint as fp
    for table, seg_bits in ((fp.SIGMOID_TABLE, fp.SIGMOID_SEG_BITS), (fp.TANH_TABLE, fp.TANH_SEG_BITS)):
        pairs = np.array(codegen.segment_pairs(table, seg_bits), dtype=np.int64).reshape(-1, 2)
        t = np.array(table, dtype=np.int64)
        i = np.arange(fp.TABLE_SEGMENTS)
        assert (pairs[:, 1] == t[1:] - t[:-1]).all()
        assert (pairs[:, 0] == (t[:-1] << seg_bits) + (1 << (seg_bits - 1)) - ((pairs[:, 1] * i) << seg_bits)).all()
        # the table's first and last inputs (where the lookup clamps to) against the twin
        lo = -(fp.TABLE_SEGMENTS << (seg_bits - 1))
        for offset, (start_prime, rise) in ((0, pairs[0]), (-2 * lo - 1, pairs[-1])):
            assert (start_prime + rise * offset) >> seg_bits == fp.table_interp(t, lo, seg_bits, lo + offset)
    steep = np.zeros(fp.TABLE_SEGMENTS + 1, dtype=np.int64)
    steep[1] = 32767                    # segment 0: start' = 2^16 fits, start' + rise t reaches 32767 (2^17 - 1) > 2^31
    with pytest.raises(AssertionError, match=r"segment 0: start' \+ rise t overflows"):
        codegen.segment_pairs(steep, 17)


def test_assembly_layout_is_generated_text():
    """tr_layout.h (the offsets and constants the assembly relies on) is quantize/emit/asm_layout.py's text; the
    C checks of each value against offsetof run wherever a path is built (test_cortex_m_strict_build_without_float)."""
    assert (build.KERNELS_DIR / asm_layout.LAYOUT_HEADER).read_text() == asm_layout.layout_header()



def test_every_assembly_constant_is_checked_against_c():
    """Each offset and table constant of tr_layout.h is compared with the C layout in a TR_CHECK of a path's job
    header (built on the target: test_cortex_m_strict_build_without_float); each DSP job mode is pinned to the
    routine's table order by the #error check of the DSP .S file."""
    checks = "".join(path.read_text().split("TR_CHECK(", 1)[1]
                     for path in (build.KERNELS_DIR / "armv6m" / "tr_m0_job.h",
                                  build.KERNELS_DIR / "arm_dsp" / "tr_dsp_job.h"))
    dsp_asm = (build.KERNELS_DIR / "arm_dsp" / "tr_matvec_s16_s8_dsp.S").read_text().split("#error", 2)[1]
    for _title, entries in asm_layout.SECTIONS:
        for name, _value, _comment in entries:
            place = dsp_asm if name.startswith("TR_DSP_MODE_") else checks
            assert re.search(rf"\b{name}\b", place), f"{name} is not checked"

def test_makefiles_list_the_same_kernel_sources():
    """firmware/kernels/kernels.mk (the Makefiles' list) and quantize/sources.py kernel_sources() agree, and so do
    their names for the unit of the one-word sigmoid and tanh tables (one of those sources)."""
    probe = f"TINYRNN_KERNELS_DIR := {build.KERNELS_DIR}\ninclude {build.KERNELS_DIR}/kernels.mk\n" \
            "$(info $(TINYRNN_KERNEL_SRCS))\n$(info $(TINYRNN_SEGMENT_TABLES_SRC))\nall: ;\n"
    out = subprocess.run(["make", "-s", "-f", "-"], input=probe, capture_output=True, text=True, check=True).stdout
    sources, segment_tables = out.splitlines()
    assert sorted(sources.split()) == sorted(str(p) for p in kernel_sources())
    assert segment_tables == str(SEGMENT_TABLES_SOURCE) and SEGMENT_TABLES_SOURCE in kernel_sources()


def test_reference_kernels_have_no_path_conditionals():
    """The portable C (firmware/kernels/*.c) takes no optimized path by #if: tr_fast.h's hooks are the only way in,
    and only tr_fast_path.h says which path a target takes."""
    for path in sorted(build.KERNELS_DIR.glob("*.c")):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#if"):
                assert not re.search(r"TR_FAST_PATH|TINYRNN_PLAIN_C|__ARM_FEATURE_DSP|TR_MATVEC", line), \
                    f"{path.name}: {line}"
    choosers = [p.relative_to(build.KERNELS_DIR).as_posix() for p in build.KERNELS_DIR.rglob("*.[chS]")
                if "TINYRNN_PLAIN_C" in p.read_text()]
    assert choosers == ["tr_fast_path.h"]

needs_arm = pytest.mark.skipif(not build.arm_toolchain_available(), reason="arm-none-eabi-gcc not installed")
needs_riscv = pytest.mark.skipif(not build.toolchain_available("rv32"), reason="riscv64-unknown-elf-gcc not installed")
FLOAT_HELPER = re.compile(r"__aeabi_(f|d|[if]2|[ud]?l2[fd]|[fd]2|ui2|i2)|__(add|sub|mul|div|float|fix)\w*[sd]f")


@needs_arm
@pytest.mark.parametrize("target", list(build.ARM_TARGETS))
def test_cortex_m_strict_build_without_float(workdir, target):
    art, _ = make_model(workdir, "arm_lstm", cell="lstm", d=6, units=16, k=4, layers=2) \
        if not (workdir / "arm_lstm").exists() else (workdir / "arm_lstm", None)
    gru, _ = make_model(workdir, "arm_gru", cell="gru", d=5, units=10, k=3, layers=1, task="regression") \
        if not (workdir / "arm_gru").exists() else (workdir / "arm_gru", None)
    for model_dir in (art, gru):
        objects = build.build_arm_objects(model_dir / "c", target, workdir / f"obj_{target}_{model_dir.name}")
        undefined = build.undefined_symbols(objects)
        floats = sorted(s for s in undefined if FLOAT_HELPER.search(s))
        assert not floats, f"{target}: float helpers referenced: {floats}"
        external = {s for s in undefined if not s.startswith(("tr_", "tinyrnn_"))}
        allowed = {"__aeabi_lmul", "__aeabi_uidiv", "__aeabi_uidivmod"}
        assert external <= allowed, f"{target}: unexpected external symbols {sorted(external - allowed)}"
        disasm = subprocess.run(["arm-none-eabi-objdump", "-d", *map(str, objects)], capture_output=True,
                                text=True, check=True).stdout
        assert not re.search(r"\tv(add|sub|mul|div|mov|ldr|str|cvt|mla)\.?[fs]?", disasm), "FPU instruction"


@pytest.mark.parametrize("target", [pytest.param("m4", marks=needs_arm), pytest.param("m0", marks=needs_arm),
                                    pytest.param("m3", marks=needs_arm), pytest.param("rv32", marks=needs_riscv)])
@pytest.mark.parametrize("cell,reset_after", [("gru", True), ("gru", False), ("lstm", True)])
def test_m4_dsp_path_matches_twin_in_unicorn(workdir, cell, reset_after, target):
    """The assembly paths run in unicorn over thousands of steps, versus the twin: the SXTB16/SMLAD path
    (Cortex-M4 build) and the Thumb-1 routine tr_m0_blocks (Cortex-M0 build; the remainder block of
    units 18 takes the C path there), the Thumb-2 routine tr_v7m_blocks (Cortex-M3 build: SMLAL into a 64-bit S per
    row pair, whose acc_B = (S >> 8) - (acc_A >> 8) the int16 extremes and |w| = 127 rows exercise); and the
    RV32IM routine tr_rv32_bytes_blocks (rv32 build, byte layout, every row), whose int32 sums'
    bound the extreme weights (every |w| = 127 against inputs at the int16 limits) test."""
    from tinyrnn.quantize.toolchain.emulate import EmulatedModel
    name = f"dsp_{cell}_{reset_after}_{target}"
    # units 18: full 4-row blocks and a remainder block; d=7: padded columns
    art, twin = make_model(workdir, name, cell=cell, reset_after=reset_after, d=7, units=18, k=5, layers=2)
    emu = EmulatedModel(art / "c", twin.params, target, workdir / f"{name}_{target}")
    checked = 0
    for label, x_q in input_sets(twin, seed=21, n=16, steps=64, long_steps=1000):
        expected = twin.run(x_q)
        for i in range(len(x_q)):
            emu.reset()
            got, _ = emu.run(x_q[i])
            assert (got == expected[i]).all(), f"{label} sequence {i}: {target} path differs from the twin"
            checked += len(x_q[i])
    assert checked >= 2000
    extreme = TwinModel(extreme_params(twin.params, seed=3))
    codegen.write_model(extreme.params, art / "c", "extreme")
    emu = EmulatedModel(art / "c", extreme.params, target, workdir / f"{name}_{target}x")
    x_q = input_sets(extreme, seed=2, n=8, steps=64)[1][1]
    expected = extreme.run(x_q)
    for i in range(len(x_q)):
        emu.reset()
        assert (emu.run(x_q[i])[0] == expected[i]).all(), f"extreme weights, sequence {i}"


@pytest.mark.parametrize("cell,reset_after,d,units", [("gru", True, 3, 4), ("gru", False, 2, 8), ("lstm", True, 4, 12),
                                                      ("gru", True, 13, 20), ("lstm", True, 1, 16),
                                                      ("gru", True, 6, 10), ("lstm", True, 5, 8),
                                                      ("gru", True, 6, 24), ("lstm", True, 3, 28),
                                                      ("lstm", True, 7, 32), ("gru", True, 9, 36),
                                                      ("gru", False, 5, 40), ("gru", False, 3, 4)])
@pytest.mark.parametrize("target", [pytest.param("m4", marks=needs_arm), pytest.param("m0", marks=needs_arm),
                                    pytest.param("m3", marks=needs_arm), pytest.param("rv32", marks=needs_riscv)])
def test_m4_dsp_loop_entries_match_twin(workdir, cell, reset_after, d, units, target):
    """tr_dsp_blocks enters its group loops part-way, or skips them for one group: segment a (input x, and h
    into layer 2) unrolled by 4, segment b (h, and the head's input) by 8. Input widths of 1..10 groups of 4
    columns reach every entry and a second pass of both loops, for each kind of job (sigmoid, tanh, the GRU
    and LSTM cell updates, the head alone or after a layer step), with trained-magnitude and extreme weights.
    The same models on the Cortex-M0 build run tr_m0_blocks at every width (the head: no second input; GRU
    candidate: second outputs). Input widths with 1 or 2 columns in the last group (d = 13, 6, 5, 9; h = 10
    into layer 2) take the M4 half-group ending after 0, 1 and 2 full groups; GRU h = 10 leaves its layer
    step to tr_gru_step (the candidate's 2 full blocks fused, 2 units to C). The Cortex-M3 build runs tr_v7m_blocks
    at every width (1..10 groups a pass of its group loop each, the head with no second input, the GRU candidate's
    second outputs, remainder blocks of 1..3 rows in C). The RV32 build runs tr_rv32_bytes_blocks
    at every width: its 4-column turns and the last 0..3 columns one at a time (d = 1..13; h = 4..40), full 16-row
    blocks and a last block of width 4, 8 and 16 (1..15 rows: units 4, 10, 12, 18, 20, 24, 28, 36, 40; heads of 4),
    with and without the GRU candidate's second requantisation, the head of exactly 4 rows unrolled (over input a
    alone) and a block of exactly 4 rows over two inputs without a second requantisation (GRU reset_after=False,
    units 4: its candidate)."""
    from tinyrnn.quantize.toolchain.emulate import EmulatedModel
    name = f"entry_{cell}_{reset_after}_{d}_{units}_{target}"
    art, twin = make_model(workdir, name, cell=cell, reset_after=reset_after, d=d, units=units, k=4, layers=2)
    for label in ("trained", "extreme"):
        model = twin
        if label == "extreme":           # built after the trained run (extreme_params may reuse its arrays)
            model = TwinModel(extreme_params(twin.params, seed=5))
            codegen.write_model(model.params, art / "c", "extreme")
        emu = EmulatedModel(art / "c", model.params, target, workdir / f"{name}_{label}_{target}")
        for set_label, x_q in input_sets(model, seed=13, n=4, steps=48):
            expected = model.run(x_q)
            for i in range(len(x_q)):
                emu.reset()
                assert (emu.run(x_q[i])[0] == expected[i]).all(), f"{label} {set_label} sequence {i}"


@needs_arm
@pytest.mark.parametrize("target", ["m4", "m0"])
def test_m4_gate_mul_helper_exact_in_unicorn(workdir, target):
    """tr_add_gate_mul_q15 (M4: SMMLAR with the gate shifted into the sign bit; M0: two MULS on the 16-bit
    halves of v) against int64 arithmetic at the edges: gates 0, 2^14 - 1, 2^14, 2^15 - 1 and random, values
    up to the int32 limits."""
    from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
    from unicorn import arm_const as arm
    src = workdir / "gate_mul.c"
    src.write_text('#include "tr_fixedpoint.h"\n'
                   "int32_t gate_mul(int32_t a, int32_t g, int32_t v) { return tr_add_gate_mul_q15(a, g, v); }\n")
    obj, binary = workdir / f"gate_mul_{target}.o", workdir / f"gate_mul_{target}.bin"
    subprocess.run([build.ARM_GCC, *build.ARM_TARGETS[target], *build.ARM_OPT, *build.STRICT_FLAGS,
                    f"-I{build.KERNELS_DIR}", "-c", src, "-o", obj], check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text.gate_mul", obj, binary], check=True)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(arm.UC_CPU_ARM_CORTEX_M4 if target == "m4" else arm.UC_CPU_ARM_CORTEX_M0)
    uc.mem_map(0, 0x10000)
    uc.mem_write(0, binary.read_bytes())
    uc.mem_write(0x8000, b"\xfe\xe7")
    rng = np.random.default_rng(7)
    gates = [0, 1, 16383, 16384, 16385, 32766, 32767, *rng.integers(0, 32768, 40)]
    values = [0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, *rng.integers(-2**31, 2**31, 40)]
    checked = 0
    for g in gates:
        for v in values:
            a = int(rng.integers(-2**28, 2**28))
            expected = a + ((int(g) * int(v) + 2**14) >> 15)
            if not -2**31 <= expected < 2**31:
                continue                   # the result must fit int32 (the helper's contract)
            uc.reg_write(arm.UC_ARM_REG_R0, a & 0xFFFFFFFF)
            uc.reg_write(arm.UC_ARM_REG_R1, int(g))
            uc.reg_write(arm.UC_ARM_REG_R2, int(v) & 0xFFFFFFFF)
            uc.reg_write(arm.UC_ARM_REG_LR, 0x8001)
            uc.reg_write(arm.UC_ARM_REG_SP, 0xF000)        # the M0 build pushes
            uc.emu_start(1, 0x8000, count=100)
            got = uc.reg_read(arm.UC_ARM_REG_R0)
            assert got - (got >> 31 << 32) == expected, (a, g, v)
            checked += 1
    assert checked > 1500


@pytest.mark.parametrize("target", [pytest.param("m0", marks=needs_arm), pytest.param("m3", marks=needs_arm),
                                    pytest.param("m7", marks=needs_arm), pytest.param("rv32", marks=needs_riscv)])
def test_other_cortex_m_images_match_twin(workdir, target):
    """The M0 and M3 builds (their assembly blocks beside the C), the M7 build and the RV32IMC build in unicorn
    agree with the twin too."""
    from tinyrnn.quantize.toolchain.emulate import EmulatedModel
    for cell in ("gru", "lstm"):
        name = f"img_{cell}"
        art = workdir / name
        twin = TwinModel.from_artifact_dir(art) if art.exists() else \
            make_model(workdir, name, cell=cell, d=5, units=14, k=3, layers=2)[1]
        emu = EmulatedModel(art / "c", twin.params, target, workdir / f"{name}_{target}")
        for label, x_q in input_sets(twin, seed=8, n=4, steps=64, long_steps=200):
            for seq in x_q:
                emu.reset()
                assert (emu.run(seq)[0] == twin.run(seq)).all(), f"{target} {cell} {label}"


# The element-wise assembly per target: (source under firmware/kernels, symbol prefix).
ELEMENTWISE_ASM = {"m0": ("armv6m/tr_elementwise_m0.S", "tr_m0_"), "rv32": ("rv32/tr_elementwise_rv32.S", "tr_rv32_")}


@pytest.mark.parametrize("target", [pytest.param("m0", marks=needs_arm), pytest.param("rv32", marks=needs_riscv)])
def test_elementwise_loops_exact_in_unicorn(workdir, target):
    """The element-wise loops in assembly (Thumb-1: armv6m/tr_elementwise_m0.S; RV32IM: rv32/tr_elementwise_rv32.S)
    against the twin's formulas: the activations over every Q14 input of the tables' ranges and beyond, up to the
    int32 limits (where z + 2^(sat-1) wraps), at every length 0..9 (odd and even counts); the GRU reset_after and
    LSTM cell updates at gate edges (0, 2^14, 2^15 - 1), h and tanh at the int16 limits, pre-activations and cell
    values past the tanh table, unit counts of every residue mod 4. The RV32 cell loops take the gates before their
    activation (TR_FAST_CELL_GATES_RAW): their gate inputs are Q14 pre-activations up to the int32 limits."""
    from unicorn import UC_ARCH_ARM, UC_ARCH_RISCV, UC_MODE_MCLASS, UC_MODE_RISCV32, UC_MODE_THUMB, Uc
    from unicorn import arm_const as arm
    from unicorn import riscv_const as rv
    from tinyrnn.quantize.twin import fixedpoint as fp
    source, prefix = ELEMENTWISE_ASM[target]
    obj, elf = workdir / f"elementwise_{target}.o", workdir / f"elementwise_{target}.elf"
    subprocess.run([targets.bench_tool(target, "gcc"), *build.BENCH_TARGETS[target], *build.ARM_OPT,
                    *build.STRICT_FLAGS, f"-I{build.KERNELS_DIR}", "-c", build.KERNELS_DIR / source, "-o", obj],
                   check=True)
    subprocess.run([targets.bench_tool(target, "ld"), *(["-m", "elf32lriscv"] if target == "rv32" else []),
                    "-Ttext=0", "-e", "0", obj, "-o", elf], check=True)
    syms = build.symbols(elf)
    code, data, stop = 0, 0x100000, 0x8000
    if target == "rv32":
        uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        arg_regs = [rv.UC_RISCV_REG_A0 + k for k in range(8)]
        sp_reg, thumb = rv.UC_RISCV_REG_SP, 0
    else:
        uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(arm.UC_CPU_ARM_CORTEX_M0)
        arg_regs = [arm.UC_ARM_REG_R0, arm.UC_ARM_REG_R1, arm.UC_ARM_REG_R2, arm.UC_ARM_REG_R3]
        sp_reg, thumb = arm.UC_ARM_REG_SP, 1
    uc.mem_map(code, 0x10000)
    uc.mem_map(data, 0x2000000)
    binary = workdir / f"elementwise_{target}.bin"
    subprocess.run([targets.bench_tool(target, "objcopy"), "-O", "binary", "-j", ".text", elf, binary],
                   check=True)
    uc.mem_write(code, binary.read_bytes())
    uc.mem_write(stop, b"\xfe\xe7" if thumb else b"\x6f\x00\x00\x00")     # b . / j .
    # the tables in each path's form: M0 one word a segment (tr_*_seg), RV32 two (tr_*_pairs)
    tables = {"sigmoid": data, "tanh": data + 0x2000}
    for name, table, seg_bits in (("sigmoid", fp.SIGMOID_TABLE, fp.SIGMOID_SEG_BITS),
                                  ("tanh", fp.TANH_TABLE, fp.TANH_SEG_BITS)):
        words = codegen.segment_pairs(table, seg_bits) if target == "rv32" else codegen.segment_words(table)
        uc.mem_write(tables[name], np.array(words, dtype="<i4").tobytes())
    arrays = data + 0x10000
    sp = data + 0x1FFF000

    def call(fn, *args):
        for reg, value in zip(arg_regs, args):
            uc.reg_write(reg, int(value) & 0xFFFFFFFF)
        uc.mem_write(sp, np.array(args[len(arg_regs):] or [0], dtype="<u4").tobytes())   # Arm: the fifth, stacked
        uc.reg_write(sp_reg, sp)
        uc.reg_write(rv.UC_RISCV_REG_RA if target == "rv32" else arm.UC_ARM_REG_LR, stop | thumb)
        saved = [rv.UC_RISCV_REG_S0 + k for k in range(2)] + [rv.UC_RISCV_REG_S2 + k for k in range(10)] \
            if target == "rv32" else [arm.UC_ARM_REG_R4 + k for k in range(8)]
        for k, reg in enumerate(saved):
            uc.reg_write(reg, 0x5A5A0000 + k)
        uc.emu_start(syms[prefix + fn] | thumb, stop)
        assert uc.reg_read(sp_reg) == sp, f"{fn}: stack not balanced"
        assert [uc.reg_read(reg) for reg in saved] == [0x5A5A0000 + k for k in range(len(saved))], \
            f"{fn}: a callee-saved register not restored"

    def read(addr, n, dtype):
        return np.frombuffer(uc.mem_read(addr, n * np.dtype(dtype).itemsize), dtype=dtype).astype(np.int64)

    rng = np.random.default_rng(17)
    edges = [2**31 - 1, -2**31, 2**31 - 2**17, 2**31 - 2**18 + 5, -2**31 + 2**18, 2**30, -2**30]
    z = np.concatenate([np.arange(-(1 << 20), 1 << 20), edges, rng.integers(-2**31, 2**31, 4000)]).astype(np.int64)
    for fn, ref in (("sigmoid_q15", fp.sigmoid_q15), ("tanh_q15", fp.tanh_q15)):
        table = tables["sigmoid" if "sigmoid" in fn else "tanh"]
        uc.mem_write(arrays, z.astype("<i4").tobytes())
        call(fn, arrays, len(z), table)
        assert (read(arrays, len(z), "<i4") == ref(z)).all(), fn
        for n_values in range(10):          # every short length (0: nothing written); the words around untouched
            words = z[-n_values - 2:]
            uc.mem_write(arrays, words.astype("<i4").tobytes())
            call(fn, arrays + 4, n_values, table)
            expected = np.concatenate([words[:1], ref(words[1:-1]), words[-1:]])
            assert (read(arrays, n_values + 2, "<i4") == expected).all(), (fn, n_values)

    def check_cells(units):
        gates = np.array([0, 1, 16383, 16384, 32766, 32767], dtype=np.int64)
        def gate():
            return np.concatenate([np.repeat(gates, 20), rng.integers(0, 32768, units - 20 * len(gates))])
        def q14(limit):
            return np.concatenate([rng.integers(-limit, limit, units // 2),
                                   rng.integers(-2**19, 2**19, units - units // 2)])
        h16 = np.concatenate([rng.choice([-32768, 32767], units // 4), rng.integers(-32768, 32768, units - units // 4)])
        edges = np.array([-2**31, 2**31 - 1, 0, -1, 1, -2**18, 2**18 - 1, -2**17 - 1, -2**17, 2**17 - 1, 2**17],
                         dtype=np.int64)

        def gate_input(act, values):
            """(what the routine reads, the gate's value): rv32 reads the Q14 pre-activation (the table edges, the
            int32 limits, in range and past it) and applies act itself; M0 reads the values (edges above)."""
            if target != "rv32":
                return values, values
            raw = rng.permutation(np.concatenate([np.repeat(edges, 10), rng.integers(-2**20, 2**20, units // 2),
                                                  rng.integers(-2**31, 2**31, units - units // 2 - 10 * len(edges))]))
            return raw, act(raw)

        # GRU: z, r, n, c (int32 each, `units` apart), h int16; units 0..9 are left alone (count = units - 10)
        (z_in, zg), (r_in, rg) = gate_input(fp.sigmoid_q15, rng.permutation(gate())), \
            gate_input(fp.sigmoid_q15, rng.permutation(gate()))
        n, c = q14(2**28), q14(2**27)
        uc.mem_write(arrays, np.concatenate([z_in, r_in, n, c]).astype("<i4").tobytes())
        h_addr = arrays + 16 * units
        uc.mem_write(h_addr, h16.astype("<i2").tobytes())
        call("gru_update", arrays + 40, h_addr + 20, units - 10, units, tables["tanh"], tables["sigmoid"])
        nj = fp.tanh_q15(n + ((rg * c + (1 << 14)) >> 15))
        expected = fp.sat16(nj + fp.round_shift(zg * (h16 - nj), 15))
        expected[:10] = h16[:10]
        assert (read(h_addr, units, "<i2") == expected).all(), "gru_update"

        # LSTM: i, f, g, o (int32, `units` apart), h int16, c int32
        (i_in, i), (f_in, f), (o_in, o) = (gate_input(fp.sigmoid_q15, rng.permutation(gate())) for _ in range(3))
        g_in, g = gate_input(fp.tanh_q15, np.concatenate([rng.choice([-32768, 32767], units // 4),
                                                          rng.integers(-32768, 32768, units - units // 4)]))
        c = q14(2**26)
        uc.mem_write(arrays, np.concatenate([i_in, f_in, g_in, o_in]).astype("<i4").tobytes())
        c_addr = h_addr + 2 * units + 64
        uc.mem_write(c_addr, c.astype("<i4").tobytes())
        call("lstm_update", arrays, units, h_addr, c_addr, tables["tanh"], tables["sigmoid"])
        c_new = fp.round_shift(f * c, 15) + fp.round_shift(i * g, 16)
        assert (read(c_addr, units, "<i4") == c_new).all(), "lstm_update: c"
        assert (read(h_addr, units, "<i2") == fp.round_shift(o * fp.tanh_q15(c_new), 15)).all(), "lstm_update: h"

    for units in (3000, 3001, 3002, 3003):    # the cell loops take every count % 4 (GRU: units - 10)
        check_cells(units)
