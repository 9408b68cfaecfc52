"""Compile the kernels with a generated model: host executables (tests) and Cortex-M / RV32 images (benchmark).

One place for the strict warning flags; the Cortex-M target flags are quantize/targets.py's, the source list
quantize/sources.py's.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tinyrnn.quantize import targets
from tinyrnn.quantize.sources import DRIVERS_DIR, KERNELS_DIR, SEGMENT_TABLES_SOURCE, kernel_sources

STRICT_FLAGS = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"]
ARM_GCC = "arm-none-eabi-gcc"

# Bench builds: name -> flags (m0, m3, m4, m7, rv32). M4/M7 with a hard-float ABI, to show the kernels need no FPU
# either way. ARM_TARGETS: the Cortex-M ones.
BENCH_TARGETS = {name: targets.bench_flags(name) for name in targets.bench_cores()}
ARM_TARGETS = {name: targets.bench_flags(name) for name in targets.bench_cores("cortexm")}
ARM_OPT = ["-O2", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-ffunction-sections", "-fdata-sections"]


class BuildError(RuntimeError):
    pass


def _run(cmd: list) -> None:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if result.returncode:
        raise BuildError(f"{' '.join(map(str, cmd))}\n{result.stdout}{result.stderr}")


def build_host(model_c_dir: Path, out: Path, sanitize: bool = False, cc: str = "gcc") -> Path:
    """The host test driver (quantize/drivers/host_driver.c) for the model in `model_c_dir`."""
    flags = STRICT_FLAGS + ["-O2", "-g"]
    if sanitize:
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    _run([cc, *flags, f"-I{KERNELS_DIR}", f"-I{model_c_dir}", *kernel_sources(), model_c_dir / "model_data.c",
          DRIVERS_DIR / "host_driver.c", "-o", out])
    return out


def arm_toolchain_available() -> bool:
    return shutil.which(ARM_GCC) is not None


def toolchain_available(target: str) -> bool:
    """The bench target's cross compiler is on PATH."""
    return shutil.which(targets.bench_tool(target, "gcc")) is not None


def build_arm_objects(model_c_dir: Path, target: str, out_dir: Path, extra_flags=()) -> list[Path]:
    """Compile the kernels + model for a bench target (Cortex-M or rv32) with the strict flags; the object files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for src in [*kernel_sources(), model_c_dir / "model_data.c"]:
        obj = out_dir / (src.stem + ".o")
        _run([targets.bench_tool(target, "gcc"), *BENCH_TARGETS[target], *ARM_OPT, *STRICT_FLAGS, *extra_flags,
              f"-I{KERNELS_DIR}", f"-I{model_c_dir}", "-c", src, "-o", obj])
        objects.append(obj)
    return objects


def build_arm_image(model_c_dir: Path, target: str, out_dir: Path) -> tuple[Path, Path]:
    """Kernels + model + bench driver linked into a flat image (quantize/drivers/bench.ld): (elf, bin).
    Any bench target, rv32 as well (the name is the Cortex-M original's)."""
    gcc, flags = targets.bench_tool(target, "gcc"), BENCH_TARGETS[target]
    objects = build_arm_objects(model_c_dir, target, out_dir)
    for src in (DRIVERS_DIR / "bench_driver.c", DRIVERS_DIR / "bench_libc.c"):
        obj = out_dir / (src.stem + ".o")
        _run([gcc, *flags, *ARM_OPT, *STRICT_FLAGS, f"-I{KERNELS_DIR}", f"-I{model_c_dir}", "-c", src, "-o", obj])
        objects.append(obj)
    elf, image = out_dir / "bench.elf", out_dir / "bench.bin"
    _run([gcc, *flags, "-nostdlib", "-nostartfiles", f"-T{DRIVERS_DIR / 'bench.ld'}",
          "-Wl,--gc-sections", *objects, "-lgcc", "-o", elf])
    _run([targets.bench_tool(target, "objcopy"), "-O", "binary", "-j", ".text", elf, image])
    return elf, image


def _tool(path: Path, name: str) -> str:
    """The binutils tool for an ELF (or object) file's machine: arm-none-eabi-<name> or riscv64-unknown-elf-<name>."""
    machine = int.from_bytes(Path(path).read_bytes()[18:20], "little")     # e_machine: 40 Arm, 243 RISC-V
    return f"{targets.TOOLCHAIN_PREFIX['riscv' if machine == 243 else 'cortexm']}-{name}"


def symbols(elf: Path) -> dict[str, int]:
    """name -> address of the ELF's symbols (nm)."""
    out = subprocess.run([_tool(elf, "nm"), str(elf)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = int(parts[0], 16)
    return table


def function_ranges(elf: Path) -> list[tuple[int, int, str]]:
    """(start, end, name) of the ELF's function symbols (nm -S; Thumb bit cleared)."""
    out = subprocess.run([_tool(elf, "nm"), "-S", "--defined-only", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    ranges = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start = int(parts[0], 16) & ~1
            ranges.append((start, start + int(parts[1], 16), parts[3]))
    return ranges


def undefined_symbols(objects: list[Path]) -> set[str]:
    out = subprocess.run([_tool(objects[0], "nm"), "-u", *map(str, objects)], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip().startswith("U")}


def section_sizes(objects: list[Path]) -> dict[str, dict[str, int]]:
    """object stem -> {"text", "data", "bss"} from size (Berkeley format; text includes rodata)."""
    out = subprocess.run([_tool(objects[0], "size"), *map(str, objects)], capture_output=True, text=True,
                         check=True).stdout
    sizes = {}
    for line in out.splitlines()[1:]:
        text, data, bss, *_rest, name = line.split()
        sizes[Path(name).stem] = {"text": int(text), "data": int(data), "bss": int(bss)}
    return sizes


# the generated tables' objects (quantize/emit/c_code.py)
TABLE_OBJECTS = ("tr_tables", SEGMENT_TABLES_SOURCE.stem, "tr_tables_rv32")


def _referenced_bytes(defining: list[Path], referring: list[Path]) -> int:
    """Bytes of the symbols of `defining` that an object of `referring` refers to (nm -S sizes)."""
    used = undefined_symbols(referring)
    out = subprocess.run([_tool(defining[0], "nm"), "-S", "--defined-only", *map(str, defining)],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(parts[1], 16) for parts in (line.split() for line in out.splitlines())
               if len(parts) == 4 and parts[3] in used)


# The one definition of a model's flash below the whole firmware, shown under this name everywhere (search,
# report, export): the kernel's code, its activation tables and the model's data (weights, requantisation, structs),
# each object's text + data as compiled for one core, before linking. The whole linked image, app and startup
# included, is "firmware flash" (host/device/fwsize.py).
KERNEL_MODEL_FLASH = "kernel+model flash"


def kernel_model_flash(objects: list[Path]) -> dict[str, int]:
    """{"weight_bytes", "code_bytes" (kernel code), "table_bytes", "flash_bytes" (their sum)} from the objects of
    build_arm_objects (tr_*.o and model_data.o). The tables are those the other objects refer to, of tr_tables.o,
    tr_tables_seg.o and rv32/tr_tables_rv32.o (the RV32IM path's own form, empty elsewhere): there the one-word
    tables of tr_tables_seg.o are referred to by nothing (the path's hooks leave the plain-C loops dead) and the
    link drops them."""
    sizes = {name: v["text"] + v["data"] for name, v in section_sizes(objects).items()}
    weights = sizes.pop("model_data")
    table_objects = [o for o in objects if Path(o).stem in TABLE_OBJECTS]
    for name in TABLE_OBJECTS:
        sizes.pop(name, None)
    tables = _referenced_bytes(table_objects, [o for o in objects if o not in table_objects])
    code = sum(sizes.values())
    return {"weight_bytes": weights, "code_bytes": code, "table_bytes": tables, "flash_bytes": weights + code + tables}


def run_host(executable: Path, x_q, output_dim: int, n_state_words: int, workdir: Path):
    """Run a host driver over x_q int16 (n, T, d): returns (y int32 (n, T, k), state int32 (n, T, words))."""
    import numpy as np
    x_q = np.asarray(x_q, dtype="<i2")
    n, steps = x_q.shape[:2]
    inp, out = workdir / "inputs.bin", workdir / "outputs.bin"
    inp.write_bytes(np.array([n, steps], dtype="<i4").tobytes() + x_q.tobytes())
    result = subprocess.run([str(executable), str(inp), str(out)], capture_output=True, text=True)
    if result.returncode:
        raise BuildError(f"{executable} failed ({result.returncode}): {result.stderr[-2000:]}")
    raw = np.fromfile(out, dtype="<i4").reshape(n, steps, output_dim + n_state_words)
    return raw[..., :output_dim], raw[..., output_dim:]
