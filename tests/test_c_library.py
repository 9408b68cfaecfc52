"""`tinyrnn export --lib`: the exported C library builds on its own (CMake for the host, Cortex-M4, Cortex-M0 and
RV32; the Makefile fragment; the Arduino layout the way Arduino compiles it) and its streaming example prints,
on emulated boards, exactly the lines the twin computes (examples/stream/expected*.txt).

The default model (build/basic_motions-gru32, or $TINYRNN_LIB_MODEL) runs on qemu-mps2-an386 (float frames,
DSP path), qemu-microbit (integer frames, Thumb-1 path), mps2-an385 (integer frames, Thumb-2 m3 path) and RISC-V
virt (integer frames, plain C) when it exists; synthetic GRU and 2-layer LSTM models run always.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.quantize.emit import c_library as lib
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel

from default_model import require_default_model

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parent.parent
HAVE_ARM = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
HAVE_RISCV = shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")
needs_cmake = pytest.mark.skipif(not shutil.which("cmake"), reason="cmake not installed")
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc / qemu-system-arm not installed")
needs_riscv = pytest.mark.skipif(not HAVE_RISCV, reason="gcc-riscv64-unknown-elf / qemu-system-misc not installed")

QEMU = {   # STREAM_BOARD -> QEMU command (semihosting prints and exits)
    "mps2-an386": ["qemu-system-arm", "-M", "mps2-an386"],
    "mps2-an385": ["qemu-system-arm", "-M", "mps2-an385"],
    "microbit": ["qemu-system-arm", "-M", "microbit"],
    "riscv-virt": ["qemu-system-riscv32", "-M", "virt", "-bios", "none"],
}
TOOLCHAIN = {"mps2-an386": ("arm-none-eabi.cmake", "cortex-m4"), "microbit": ("arm-none-eabi.cmake", "cortex-m0"),
             "mps2-an385": ("arm-none-eabi.cmake", "cortex-m3"),
             "riscv-virt": ("riscv32-unknown-elf.cmake", None)}


def cmake_build(out: Path, board: str, *defs: str) -> Path:
    name = json.loads((out / lib.MARKER).read_text())["name"]
    build_dir = out / f"build-{board}"
    cmd = ["cmake", "-S", out, "-B", build_dir, f"-DSTREAM_BOARD={board}", f"-D{name.upper()}_STRICT=ON", *defs]
    if board in TOOLCHAIN:
        toolchain, cpu = TOOLCHAIN[board]
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={out / 'cmake' / toolchain}")
        if cpu:
            cmd.append(f"-DTINYRNN_CPU={cpu}")
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build_dir), "-j2"], check=True, capture_output=True)
    return build_dir / "examples" / "stream" / ("stream" if board == "host" else "stream.elf")


def run_example(out: Path, board: str, *defs: str) -> list[str]:
    exe = cmake_build(out, board, *defs)
    cmd = [str(exe)] if board == "host" else QEMU[board] + [
        "-display", "none", "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native", "-kernel", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert lines[-1] == "done", lines[-3:]
    return lines


def expected(out: Path, kind: str) -> list[str]:
    return (out / "examples" / "stream" / ("expected.txt" if kind == "float" else "expected_int.txt")
            ).read_text().splitlines()


def seq_lines(lines):
    return [line for line in lines if line.startswith("seq ")]


@pytest.fixture(scope="module")
def gru_lib(tmp_path_factory):
    """A synthetic GRU whose model.json asks for 2 frames per step (the library's block average)."""
    root = tmp_path_factory.mktemp("gru")
    art = make_artifact(root / "gru-syn", cell="gru", d=5, units=12, k=3, n=6, steps=20, seed=3)
    manifest = json.loads((art / "model.json").read_text())
    manifest["downsample"] = 2
    (art / "model.json").write_text(json.dumps(manifest))
    export(art, progress=False)
    lib.write_library(art, root / "lib")
    return root / "lib"


@pytest.fixture(scope="module")
def lstm_lib(tmp_path_factory):
    """A synthetic 2-layer LSTM regression model with a sensor scale of its own for push_int."""
    root = tmp_path_factory.mktemp("lstm")
    art = make_artifact(root / "lstm2", cell="lstm", layers=2, d=4, units=8, k=2, task="regression",
                        n=5, steps=24, seed=5)
    export(art, progress=False)
    lib.write_library(art, root / "lib", name="lstm2", int_scale=[0.01, 0.02, 0.005, 0.01])
    return root / "lib"


# ---- the pre-processing twin -----------------------------------------------------------------------

def test_fold_matches_float_normalisation(tmp_path):
    """The integer fold of the float path agrees with the kit's float64 quantize_input to 1 LSB, nearly always."""
    twin = TwinModel.from_artifact_dir(make_artifact(tmp_path / "tr_fold_syn", d=6, units=8, seed=1))
    p = twin.params
    x = np.random.default_rng(0).normal(p.norm_mean, p.norm_std * 3, (4000, p.input_dim)).astype(np.float32)
    bits = pp.float_frac_bits(p.norm_mean, p.norm_std)
    fold = pp.fold_input(p.norm_mean, p.norm_std, p.input_frac_bits, 2.0 ** -bits)
    diff = pp.quantize_raw_sum(pp.float_to_raw(x, bits), fold).astype(int) - twin.quantize_input(x)
    assert np.abs(diff).max() <= 1 and (diff != 0).mean() < 0.01


def test_float_to_raw_edges():
    r = pp.float_to_raw(np.array([0.5, -0.5, 1.49, -1.5, np.nan, 1e30, -1e30, 2.0 ** 24 + 2], np.float32), 0)
    assert r.tolist() == [1, 0, 1, -1, 0, 2 ** 30, -2 ** 30, 2 ** 24 + 2]


def test_library_name_refuses_own_file_names():
    assert lib.library_name("basic_motions-gru32") == "basic_motions_gru32"
    with pytest.raises(lib.LibraryError):
        lib.library_name("model_data")
    with pytest.raises(lib.LibraryError):
        lib.library_name("tr_gru")


# ---- the folder --------------------------------------------------------------------------------------

def test_folder_ships_every_kernel_file_and_valid_manifests(gru_lib):
    src = gru_lib / "src"
    assert sorted(p.relative_to(lib.KERNELS_DIR).as_posix() for p in lib.kernel_files()) == sorted(
        p.relative_to(src).as_posix() for p in src.rglob("*") if p.name.startswith(("tr_", "tinyrnn")))
    pio = json.loads((gru_lib / "library.json").read_text())
    assert {"name", "version", "description", "frameworks", "platforms", "build"} <= set(pio)
    assert (gru_lib / pio["build"]["srcDir"] / "gru_syn.h").is_file()
    for example in pio["examples"]:
        assert all((gru_lib / example["base"] / f).is_file() for f in example["files"])
    props = dict(line.split("=", 1) for line in (gru_lib / "library.properties").read_text().splitlines())
    assert props["name"] == "gru_syn" and props["includes"] == "gru_syn.h"
    assert (gru_lib / "examples" / "SerialStream" / "SerialStream.ino").is_file()
    with pytest.raises(lib.LibraryError):          # a folder that is not a library is never replaced
        lib.write_library(gru_lib.parent / "gru-syn", gru_lib.parent / "gru-syn")


@needs_arm
@needs_riscv
def test_the_headers_weight_bytes_are_what_each_core_links(gru_lib):
    """WEIGHT_BYTES (row-pair layout: Arm, plain C) and WEIGHT_BYTES_RV32 (byte layout) against `size` of
    model_data.o per core: the same struct bytes beside each."""
    header = (gru_lib / "src" / "gru_syn.h").read_text()
    macro = {m[1]: int(m[2]) for m in re.finditer(r"#define GRU_SYN_(WEIGHT_BYTES\w*)\s+(\d+)", header)}
    sizes = lib.measure_sizes(gru_lib / "src")
    structs = {sizes["m4"]["model_data"] - macro["WEIGHT_BYTES"],
               sizes["m0"]["model_data"] - macro["WEIGHT_BYTES"],
               sizes["rv32imc"]["model_data"] - macro["WEIGHT_BYTES_RV32"]}
    assert macro["WEIGHT_BYTES"] != macro["WEIGHT_BYTES_RV32"] and len(structs) == 1 and 0 < structs.pop() < 256


@needs_cmake
def test_host_cmake_float_and_int_frames_bit_exact(gru_lib):
    assert seq_lines(run_example(gru_lib, "host")) == expected(gru_lib, "float")
    assert seq_lines(run_example(gru_lib, "host", "-DSTREAM_FLOAT=OFF", "-DGRU_SYN_KERNEL_PATH=c")) == \
        expected(gru_lib, "int")


@needs_cmake
def test_lstm_two_layers_host_bit_exact(lstm_lib):
    assert seq_lines(run_example(lstm_lib, "host")) == expected(lstm_lib, "float")
    assert seq_lines(run_example(lstm_lib, "host", "-DSTREAM_FLOAT=OFF")) == expected(lstm_lib, "int")


@needs_cmake
@needs_arm
def test_lstm_two_layers_cortex_m0_bit_exact(lstm_lib):
    lines = run_example(lstm_lib, "microbit")
    assert " path m0 int" in lines[0]
    assert seq_lines(lines) == expected(lstm_lib, "int")


def test_makefile_fragment_builds_the_example(gru_lib, tmp_path):
    """The Makefile fragment, used the way its comment says, on the host."""
    ex = gru_lib / "examples" / "stream"
    (tmp_path / "Makefile").write_text(
        f"include {gru_lib}/gru_syn.mk\nCFLAGS = -Wall -Wextra -Werror -std=c99\n"
        f"stream: $(GRU_SYN_LIB)\n\t$(CC) $(CFLAGS) $(GRU_SYN_CFLAGS) {ex}/stream.c {ex}/example_data.c "
        f"{ex}/port_host.c $(GRU_SYN_LIB) -o $@\n")
    subprocess.run(["make", "-s", "-C", str(tmp_path), "stream"], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "stream")], capture_output=True, text=True, check=True).stdout
    assert seq_lines(out.splitlines()) == expected(gru_lib, "float")


@pytest.mark.skipif(not shutil.which("arm-none-eabi-g++"), reason="arm-none-eabi-g++ not installed")
def test_arduino_layout_compiles_like_arduino(gru_lib, tmp_path):
    """As Arduino builds a library: src/ recursively (.c and .S) with gcc, the sketch as C++, strict warnings (a stub
    Arduino.h)."""
    (tmp_path / "Arduino.h").write_text(
        "#pragma once\nstruct SerialStub {\n  void begin(long) {}\n  int available() { return 0; }\n"
        "  float parseFloat() { return 0.0f; }\n  void print(const char *) {}\n  void print(int) {}\n"
        "  void print(char) {}\n  void println(const char *) {}\n  void println(float, int) {}\n};\n"
        "extern SerialStub Serial;\n")
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-Wall", "-Wextra",
           "-Werror"]
    for c in sorted(p for p in (gru_lib / "src").rglob("*") if p.suffix in (".c", ".S")):
        subprocess.run(["arm-none-eabi-gcc", *cpu, "-std=gnu11", f"-I{gru_lib / 'src'}", "-c", str(c),
                        "-o", str(tmp_path / (c.stem + ".o"))], check=True, capture_output=True)
    sketch = tmp_path / "SerialStream.cpp"
    sketch.write_text('#include "Arduino.h"\n' + (gru_lib / "examples/SerialStream/SerialStream.ino").read_text())
    subprocess.run(["arm-none-eabi-g++", *cpu, "-std=gnu++17", "-fno-exceptions", "-fno-rtti", f"-I{tmp_path}",
                    f"-I{gru_lib / 'src'}", "-c", str(sketch), "-o", str(tmp_path / "sketch.o")],
                   check=True, capture_output=True, text=True)


# ---- the default model on emulated boards --------------------------------------------------------------

@pytest.fixture(scope="module")
def default_lib(tmp_path_factory):
    model = require_default_model()
    out = tmp_path_factory.mktemp("default") / "lib"
    lib.write_library(model, out)
    return out


@needs_cmake
@needs_arm
def test_default_model_mps2_an386_float_dsp_bit_exact(default_lib):
    lines = run_example(default_lib, "mps2-an386")
    assert " path dsp float" in lines[0]
    assert seq_lines(lines) == expected(default_lib, "float")


@needs_cmake
@needs_arm
def test_default_model_microbit_int_m0_bit_exact(default_lib):
    lines = run_example(default_lib, "microbit")
    assert " path m0 int" in lines[0]
    assert seq_lines(lines) == expected(default_lib, "int")


@needs_cmake
@needs_arm
def test_default_model_mps2_an385_int_m3_bit_exact(default_lib):
    """The library built by CMake for Cortex-M3 takes the m3 kernel path (its Thumb-2 block routine) by itself."""
    lines = run_example(default_lib, "mps2-an385")
    assert " path m3 int" in lines[0]
    assert seq_lines(lines) == expected(default_lib, "int")


@needs_cmake
@needs_riscv
def test_default_model_riscv_rv32imc_bit_exact(default_lib):
    """The library built by CMake for rv32imc takes the rv32 kernel path (its assembly block routine) by itself."""
    lines = run_example(default_lib, "riscv-virt")
    assert " path rv32 int" in lines[0]
    assert seq_lines(lines) == expected(default_lib, "int")


@needs_riscv
def test_readme_gives_rv32_flash_and_minstret_instructions(tmp_path, monkeypatch):
    """`tinyrnn export --lib` measures RV32IMC too: flash from `size` of rv32imc objects, instructions per step
    from minstret on the emulated RISC-V board (qemu-riscv32-virt under -icount, checked against the twin)."""
    from tinyrnn.host.device.library_counts import count_on_riscv
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "fw"))
    art = make_artifact(tmp_path / "rv-syn", units=8, n=2, steps=10, k=3)
    export(art, progress=False)
    twin = TwinModel.from_artifact_dir(art)
    count = count_on_riscv(art, twin, twin.quantize_input(np.load(art / "test_split.npz")["x"][0][:4]), tmp_path)
    assert 1_000 < count < 100_000
    lib.write_library(art, tmp_path / "lib", instructions={"rv32imc": count})
    readme = (tmp_path / "lib" / "README.md").read_text()
    assert re.search(r"^\| RV32IMC \| [\d,]+ \| [\d,]+ \| [\d,]+ \|$", readme, re.M)
    assert f"| RV32IMC | {count:,} | minstret on QEMU's virt machine under -icount" in readme
