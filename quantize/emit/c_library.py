"""`tinyrnn export --lib OUT`: a self-contained C library of one model for the user's own firmware.

OUT holds the kernel sources in src/ (every firmware/kernels file, the optimized paths' folders as subfolders:
quantize/sources.py's rule), the model's generated
C (model_data.{h,c}), one public header `<name>.h` and its implementation `<name>.c` (pre-processing folded
into integers: quantize/twin/preprocess.py), build files (CMake, a Makefile fragment, an Arduino library layout,
a PlatformIO library.json), a README for that model and examples/stream, a streaming loop with the first test
sequences and the lines the twin expects it to print (expected.txt), and examples/record, sample lines for
`tinyrnn record` (a recorded signal standing in for the sensor: recorded_signal.py). Templates are the files in
library/ with @KEY@ placeholders; everything model-specific is generated here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from tinyrnn.quantize import targets
from tinyrnn.quantize.artifact import TEST_SPLIT_NAME, Artifact, Manifest
from tinyrnn.quantize.emit import c_code as codegen
from tinyrnn.quantize.emit import recorded_signal
from tinyrnn.quantize.sources import KERNELS_DIR, kernel_headers, kernel_sources
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.twin import fixedpoint as fp
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel, scratch_words, state_words
from tinyrnn.quantize.twin.params import KernelParams

TEMPLATES = Path(__file__).resolve().parent / "library"
MARKER = "tinyrnn-library.json"          # written last; OUT is replaced only when it holds one
EXAMPLE_BUDGET = 100_000                 # bytes of example frames per representation (float or int32)
FNV_OFFSET, FNV_PRIME = 2166136261, 16777619
_RESERVED = {"model_data", "example_data", "port", "stream", "tinyrnn", "live", "ticks", "recorded_signal"}
LIVE_SEQUENCES = 4                       # recorded sequences examples/live replays (one of each class first)


class LibraryError(ValueError):
    """The library cannot be written as asked (a bad name, OUT not ours, a model without a kernel)."""


def library_name(text: str) -> str:
    """A C identifier from a model or directory name: lower case, other characters as '_'."""
    name = re.sub(r"[^a-z0-9_]", "_", text.lower()).strip("_")
    if name and name[0].isdigit():
        name = "m_" + name
    if not name:
        raise LibraryError(f"cannot make a C name from {text!r}")
    if name in _RESERVED or name.startswith("tr_") or name in {p.stem for p in KERNELS_DIR.rglob("*")}:
        raise LibraryError(f"'{name}' is a name the library uses for its own files")
    return codegen.c_identifier(name)


def kernel_files() -> list[Path]:
    """The kernel sources and headers the library ships: all of firmware/kernels, the optimized paths' folders
    included (no list kept by hand). Every build of the library compiles every source (Arduino and PlatformIO
    compile src/ recursively); a path's files compile to nothing on targets it does not apply to."""
    return sorted([*kernel_sources(), *kernel_headers()])


def library_sources(src: Path) -> list[str]:
    """The library's translation units, as paths relative to its folder (src/...): C and assembly."""
    return sorted(p.relative_to(src.parent).as_posix() for pattern in ("*.c", "*/*.c", "*/*.S")
                  for p in src.glob(pattern))


def _asm_sources_as_c(sources: list[str]) -> str:
    """CMake lines that build the .S sources with the C compiler and the C flags (the -mcpu of the user's toolchain
    is what picks the kernel path; CMake's ASM language would take other flags). GCC and Clang preprocess and
    assemble a file by its .S name."""
    asm = [s for s in sources if s.endswith(".S")]
    if not asm:
        return ""
    return ("# The optimized paths' assembly: built by the C compiler with the C flags (their -mcpu picks the path)\n"
            f"set_source_files_properties({' '.join(asm)} PROPERTIES LANGUAGE C)\n")


def _fill(text: str, values: dict) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, f"template placeholders left unfilled: {left}"
    return text


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _c_float(value: float) -> str:
    """A float constant exact in C: a hex literal of the float32 value."""
    return float(np.float32(value)).hex() + "f"


# ---- the pre-processing of this model --------------------------------------------------------------

class Preprocess:
    """Float and integer folds of one model (quantize/twin/preprocess.py) and the example's raw frames."""

    def __init__(self, params: KernelParams, downsample: int, int_scale=None):
        self.params, self.downsample = params, downsample
        self.float_bits = pp.float_frac_bits(params.norm_mean, params.norm_std)
        self.float_fold = pp.fold_input(params.norm_mean, params.norm_std, params.input_frac_bits,
                                        2.0 ** -self.float_bits, downsample)
        self.int_scale = None if int_scale is None else np.broadcast_to(
            np.asarray(int_scale, np.float64), (params.input_dim,)).copy()
        try:
            self.int_fold = self.float_fold if self.int_scale is None else pp.fold_input(
                params.norm_mean, params.norm_std, params.input_frac_bits, self.int_scale, downsample)
        except ValueError as e:       # a scale too far from a channel's std to fold into integer constants
            raise LibraryError(f"--int-scale: {e} — give each channel's real unit (value = integer * scale)") from None

    def int_frames(self, x) -> np.ndarray:
        """Float frames -> the integers push_int takes for them."""
        if self.int_scale is None:
            return pp.float_to_raw(x, self.float_bits)
        raw = np.floor(np.asarray(x, np.float64) / self.int_scale + 0.5)
        return np.clip(raw, -2**31, 2**31 - 1).astype(np.int64)


def expected_lines(twin: TwinModel, frames: list, fold: pp.InputFold, classes) -> list[str]:
    """The `seq ...` lines examples/stream prints for these raw integer frame sequences (its twin)."""
    lines = []
    for index, raw in enumerate(frames):
        x_q = pp.quantize_frames(raw, fold)
        y = twin.run(x_q) if len(x_q) else np.zeros((0, twin.params.output_dim), np.int32)
        h = FNV_OFFSET
        for byte in y.astype("<i4").tobytes():
            h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFF
        last = y[-1] if len(y) else np.zeros(twin.params.output_dim, np.int32)
        k = int(np.argmax(last))
        name = f" {classes[k]}" if classes else ""
        lines.append(f"seq {index} steps {len(y)} argmax {k}{name} hash {h:08x}")
    return lines


# ---- generated C ---------------------------------------------------------------------------------

def _fold_table(prefix: str, name: str, fold: pp.InputFold, comment: str) -> str:
    rows = "\n".join(f"    {{{int(b)}LL, {int(m)}, {int(s)}}},"
                     for b, m, s in zip(fold.bias, fold.mult, fold.shift))
    return f"/* {comment} */\nstatic const {prefix}_fold_t {prefix}_{name}[{len(fold.mult)}] = {{\n{rows}\n}};\n"


def _constants(uc: str, params: KernelParams, manifest: dict, pre: Preprocess) -> str:
    p = params
    classes = manifest.get("classes") if p.head_kind == "softmax" else None
    out_bits = fp.PROB_FRAC_BITS if p.head_kind == "softmax" else fp.PREACT_FRAC_BITS
    rows = [
        ("MODEL_HASH", _c_string(p.model_hash), "the model's identity: first 8 bytes of SHA-256 over kernel.bin"),
        ("INPUT_DIM", p.input_dim, "raw values per frame (channels)"),
        ("OUTPUT_DIM", p.output_dim, "outputs per step" + (" (classes)" if classes else " (regression values)")),
        ("UNITS", p.units, f"units per recurrent layer ({p.cell_kind})"),
        ("LAYERS", p.num_layers, "stacked recurrent layers"),
        ("IS_CLASSIFIER", int(classes is not None), "1: softmax probabilities, 0: regression values"),
        ("DOWNSAMPLE", pre.downsample, "frames averaged into one model step"),
        ("INPUT_FRAC_BITS", p.input_frac_bits, "kernel input: int16 Q(this) of (value - mean) / std"),
        ("OUTPUT_FRAC_BITS", out_bits, "@P@_output_q: " + ("probability Q15 (32768 = 1)" if classes
                                                           else "normalised value Q14")),
        ("FLOAT_FRAC_BITS", pre.float_bits, "push_float: values become integers of 2^-this units"),
        ("FLOAT_SCALE", _c_float(2.0 ** pre.float_bits), "2^FLOAT_FRAC_BITS"),
        ("STATE_WORDS", state_words(p), "int32 words of recurrent state"),
        ("SCRATCH_WORDS", scratch_words(p), "int32 words of scratch"),
        ("STATE_BYTES", 4 * state_words(p), "bytes of recurrent state (in @P@_t)"),
        ("SCRATCH_BYTES", 4 * scratch_words(p), "bytes of scratch (in @P@_t)"),
        ("WEIGHT_BYTES", codegen.weight_bytes(p, codegen.LAYOUT_PAIRS),
         "flash bytes of the model's weights and requantisation (Arm cores and plain C: the row-pair layout)"),
        ("WEIGHT_BYTES_RV32", codegen.weight_bytes(p, codegen.LAYOUT_BYTES),
         "the same on RV32 cores (their int8 byte layout)"),
    ]
    width = max(len(uc) + len(n) for n, _, _ in rows) + 10
    return "\n".join(f"{f'#define {uc}_{n}':<{width}} {v}  /* {c} */" for n, v, c in rows)


def _class_name_body(uc: str, classes) -> str:
    if not classes:
        return "    (void)k;\n    return 0;"
    names = ", ".join(_c_string(str(c)) for c in classes)
    return (f"    static const char *const names[{uc}_OUTPUT_DIM] = {{{names}}};\n"
            f"    return (k >= 0 && k < {uc}_OUTPUT_DIM) ? names[k] : 0;")


def _output_body(uc: str, params: KernelParams, manifest: dict) -> str:
    if params.head_kind == "softmax":
        return (f"    return (float)@P@_output_q(m, k) * {_c_float(2.0 ** -fp.PROB_FRAC_BITS)};"
                "   /* probability */")
    norm = manifest.get("target_norm") or {"mean": [0.0] * params.output_dim, "std": [1.0] * params.output_dim}
    means = ", ".join(_c_float(v) for v in norm["mean"])
    stds = ", ".join(_c_float(v * 2.0 ** -fp.PREACT_FRAC_BITS) for v in norm["std"])
    return (f"    static const float scale[{uc}_OUTPUT_DIM] = {{{stds}}};   /* target std / 2^14 */\n"
            f"    static const float offset[{uc}_OUTPUT_DIM] = {{{means}}};  /* target mean */\n"
            f"    if (k < 0 || k >= {uc}_OUTPUT_DIM) {{\n        return 0.0f;\n    }}\n"
            "    return (float)@P@_output_q(m, k) * scale[k] + offset[k];   /* in the target's unit */")


def _example_data(uc: str, name: str, floats: list, ints: list) -> tuple[str, str]:
    n = len(floats)
    offsets = np.cumsum([0] + [len(f) for f in floats[:-1]])
    header = (f"/* The example's frames: the first {n} test sequence(s). GENERATED by tinyrnn export --lib. */\n"
              "#ifndef EXAMPLE_DATA_H\n#define EXAMPLE_DATA_H\n\n#include <stdint.h>\n\n"
              f"#define EXAMPLE_SEQUENCES {n}\n\n"
              "extern const uint32_t example_frames[EXAMPLE_SEQUENCES];   /* frames per sequence */\n"
              "extern const uint32_t example_offset[EXAMPLE_SEQUENCES];   /* first frame of each sequence */\n"
              f"extern const float example_float[];     /* frames x {uc}_INPUT_DIM values for push_float */\n"
              f"extern const int32_t example_int[];     /* the same frames as push_int integers */\n\n"
              "#endif\n")
    flat_f = np.concatenate(floats).reshape(-1)
    flat_i = np.concatenate(ints).reshape(-1)
    body_f = ",\n".join(", ".join(_c_float(v) for v in flat_f[i:i + 6]) for i in range(0, len(flat_f), 6))
    body_i = ",\n".join(", ".join(str(int(v)) for v in flat_i[i:i + 12]) for i in range(0, len(flat_i), 12))
    source = (f"/* GENERATED by tinyrnn export --lib: frames of the model's test split. */\n"
              f'#include "example_data.h"\n#include "{name}.h"\n\n'
              f"const uint32_t example_frames[EXAMPLE_SEQUENCES] = {{{', '.join(str(len(f)) for f in floats)}}};\n"
              f"const uint32_t example_offset[EXAMPLE_SEQUENCES] = {{{', '.join(str(int(o)) for o in offsets)}}};\n"
              f"const float example_float[{len(flat_f)}] = {{\n{body_f}\n}};\n"
              f"const int32_t example_int[{len(flat_i)}] = {{\n{body_i}\n}};\n")
    return header, source


def record_signal(artifact_dir: Path, floats: list) -> recorded_signal.RecordedSignal:
    """The stand-in sensor of examples/record: test sequences of the model (recorded_signal.py), or the
    example's own frames when the artifact has no test split."""
    artifact = Artifact.open(artifact_dir)
    if artifact.has(TEST_SPLIT_NAME):
        return recorded_signal.RecordedSignal.from_artifact(artifact)
    manifest = artifact.manifest
    dim = int(floats[0].shape[1])
    channels = tuple(str(c) for c in (manifest.channels or [f"ch{j}" for j in range(dim)]))
    return recorded_signal.RecordedSignal(np.concatenate(floats).astype(np.float32), (0,), ("",), channels,
                                          recorded_signal.DEFAULT_RATE_HZ, f"synthetic frames of {artifact_dir.name}")


# ---- the whole folder ----------------------------------------------------------------------------

def _load(artifact_dir: Path) -> tuple[Manifest, KernelParams]:
    artifact = Artifact.open(artifact_dir)
    if not artifact.kernel.json.is_file():
        raise LibraryError(f"{artifact_dir} has no kernel.json — run tinyrnn export {artifact_dir} first")
    twin = TwinModel.from_artifact_dir(artifact_dir)        # refuses a kernel that is not the model's
    return artifact.manifest, twin.params


def _example_sequences(artifact_dir: Path, params: KernelParams, downsample: int):
    """Float frames (T * downsample, d) of the first test sequences within EXAMPLE_BUDGET; each model step's
    values repeated `downsample` times (the test split holds steps). Synthetic ramps without a test split."""
    artifact = Artifact.open(artifact_dir)
    if artifact.has(TEST_SPLIT_NAME):
        split = artifact.test_split()
        seqs = [split.x[i, :int(n)] for i, n in enumerate(split.lengths)]
    else:
        rng = np.random.default_rng(0)
        seqs = [(params.norm_mean + params.norm_std * rng.normal(size=(32, params.input_dim))).astype(np.float32)]
    out, used = [], 0
    for s in seqs:
        frames = np.repeat(np.asarray(s, np.float32), downsample, axis=0)
        if out and used + frames.nbytes > EXAMPLE_BUDGET:
            break
        out.append(frames)
        used += frames.nbytes
    return out


# Where the README's sizes are measured: core -> (compiler, target flags); rv32imc when Debian's RISC-V GCC is there.
SIZE_TARGETS = {"m0": (build.ARM_GCC, build.ARM_TARGETS["m0"]), "m4": (build.ARM_GCC, build.ARM_TARGETS["m4"]),
                "rv32imc": ("riscv64-unknown-elf-gcc", targets.cpu_flags("rv32imc"))}
CORE_NAMES = {"m0": "Cortex-M0", "m4": "Cortex-M4", "rv32imc": "RV32IMC"}


def measure_sizes(src_dir: Path) -> dict | None:
    """Flash bytes of the library (code, tables, model data) for Cortex-M0, M4 and rv32imc, from `size` over
    its objects (-O2, every function kept); a core without its compiler is left out, None without any."""
    targets = {t: v for t, v in SIZE_TARGETS.items() if shutil.which(v[0])}
    if not targets:
        return None
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target, (cc, flags) in targets.items():
            objects = []
            for source in library_sources(src_dir):
                src = src_dir.parent / source
                obj = Path(tmp) / f"{target}_{src.stem}.o"
                build._run([cc, *flags, *build.ARM_OPT, *build.STRICT_FLAGS, f"-I{src_dir}", "-c", src,
                            "-o", obj])
                objects.append(obj)
            table = build.section_sizes(objects)
            model = table.pop(f"{target}_model_data")
            sizes[target] = {"code": sum(v["text"] + v["data"] for v in table.values()),
                             "model_data": model["text"] + model["data"],
                             "bss": sum(v["bss"] for v in table.values()) + model["bss"]}
    return sizes


def write_library(artifact_dir, out_dir, name: str | None = None, int_scale=None,
                  instructions: dict | None = None) -> dict:
    """Write the library of `artifact_dir` into `out_dir` (replaced if it holds an earlier library, refused
    if it holds anything else). `instructions`: {core: instructions per step} measured by the caller, for
    the README. Returns the summary written to OUT/tinyrnn-library.json."""
    artifact_dir, out_dir = Path(artifact_dir), Path(out_dir)
    manifest, params = _load(artifact_dir)
    name = library_name(name or manifest.get("name") or artifact_dir.resolve().name)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise LibraryError(f"{out_dir} exists and is not a tinyrnn library — choose an empty or new folder")
    downsample = int(manifest.get("downsample", 1) or 1)
    pre = Preprocess(params, downsample, int_scale)
    classes = manifest.get("classes") if params.head_kind == "softmax" else None
    uc, source = name.upper(), f"{artifact_dir.name} (model {params.model_hash})"

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        src = tmp / "src"
        src.mkdir()
        for path in kernel_files():
            target = src / path.relative_to(KERNELS_DIR)
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
        codegen.write_model(params, src, source)

        if pre.int_scale is None:
            int_note = f"integers of 2^-{pre.float_bits} of the unit the model was trained on"
        else:
            int_note = "value = raw * scale in the unit the model was trained on, scale per channel " + \
                       ", ".join(f"{s:g}" for s in pre.int_scale)
        out_q_note = ("probability in Q15 (32768 = 1)" if classes is not None else
                      "normalised value in Q14 ((value - target mean) / target std * 2^14)")
        out_f_note = ("probability 0..1" if classes is not None else "value in the unit of the training target")
        summary = (f"{params.cell_kind} x {params.num_layers} layer(s), {params.units} units, "
                   f"{params.input_dim} inputs, {params.output_dim} " + ("classes: " + ", ".join(map(str, classes))
                                                                          if classes else "regression outputs"))
        values = {"NAME": name, "P": name, "UC": uc, "SOURCE": source, "SUMMARY": summary,
                  "INT_SCALE_NOTE": int_note, "OUTPUT_Q_NOTE": out_q_note, "OUTPUT_F_NOTE": out_f_note,
                  "HASH": params.model_hash}
        constants = _constants(uc, params, manifest, pre).replace("@P@", name)
        (src / f"{name}.h").write_text(_fill((TEMPLATES / "lib.h.in").read_text(),
                                             {**values, "CONSTANTS": constants}))
        tables = _fold_table(name, "fold_int", pre.int_fold, "push_int: per channel {bias, mult, shift}")
        tables += "\n#if !" + uc + "_NO_FLOAT\n" + _fold_table(
            name, "fold_float", pre.float_fold,
            f"push_float: per channel {{bias, mult, shift}} for integers of 2^-{pre.float_bits}") + "#endif\n"
        (src / f"{name}.c").write_text(_fill((TEMPLATES / "lib.c.in").read_text(), {
            "TABLES": tables, "CLASS_NAME_BODY": _class_name_body(uc, classes),
            "OUTPUT_F_BODY": _output_body(uc, params, manifest), **values}))

        (tmp / "CMakeLists.txt").write_text(_fill((TEMPLATES / "CMakeLists.txt.in").read_text(), {
            **values, "SOURCES": "\n".join(f"    {s}" for s in library_sources(src)),
            "ASM_SOURCES_AS_C": _asm_sources_as_c(library_sources(src))}))
        (tmp / f"{name}.mk").write_text(_fill((TEMPLATES / "library.mk.in").read_text(), values))
        shutil.copytree(TEMPLATES / "cmake", tmp / "cmake")

        # examples/stream: the loop, its ports, the frames and what the twin says it prints
        ex = tmp / "examples" / "stream"
        ex.mkdir(parents=True)
        floats = _example_sequences(artifact_dir, params, downsample)
        ints = [pre.int_frames(f) for f in floats]
        for path in (TEMPLATES / "examples" / "stream").iterdir():
            if path.suffix == ".in":
                (ex / path.stem).write_text(_fill(path.read_text(), {**values, "SEQUENCES": len(floats)}))
            else:
                shutil.copyfile(path, ex / path.name)
        header, data = _example_data(uc, name, floats, ints)
        (ex / "example_data.h").write_text(header)
        (ex / "example_data.c").write_text(data)
        twin = TwinModel(params)
        float_lines = expected_lines(twin, [pp.float_to_raw(f, pre.float_bits) for f in floats],
                                     pre.float_fold, classes)
        int_lines = expected_lines(twin, ints, pre.int_fold, classes)
        (ex / "expected.txt").write_text("\n".join(float_lines) + "\n")
        (ex / "expected_int.txt").write_text("\n".join(int_lines) + "\n")
        _write_live_example(artifact_dir, tmp / "examples" / "live", values)

        # examples/record: sample lines for `tinyrnn record`, a recorded signal standing in for the sensor
        signal = record_signal(artifact_dir, floats)
        rec = tmp / "examples" / "record"
        rec.mkdir()
        for path in (TEMPLATES / "examples" / "record").iterdir():
            if path.suffix == ".in":
                (rec / path.stem).write_text(_fill(path.read_text(), {**values, "SIGNAL_SOURCE": signal.source}))
            else:
                shutil.copyfile(path, rec / path.name)
        (rec / "recorded_signal.h").write_text(recorded_signal.c_header(signal))

        # Arduino and PlatformIO
        channels = f"{params.input_dim} channel(s)"
        (tmp / "library.properties").write_text(_fill((TEMPLATES / "arduino" / "library.properties.in").read_text(),
                                                      {**values, "SENTENCE": f"tinyrnn model {name}: {summary}."}))
        sketch = tmp / "examples" / "SerialStream"
        sketch.mkdir()
        (sketch / "SerialStream.ino").write_text(_fill((TEMPLATES / "arduino" / "SerialStream.ino.in").read_text(),
                                                       {**values, "CHANNELS": channels}))
        (tmp / "library.json").write_text(json.dumps(platformio_manifest(name, summary, params), indent=2) + "\n")

        sizes = measure_sizes(src)
        info = {"name": name, "model_hash": params.model_hash, "source": str(artifact_dir),
                "cell": params.cell_kind, "layers": params.num_layers, "input_dim": params.input_dim,
                "output_dim": params.output_dim, "units": params.units, "downsample": downsample,
                "float_frac_bits": pre.float_bits, "int_scale": None if pre.int_scale is None else
                pre.int_scale.tolist(), "example_sequences": len(floats),
                "state_bytes": 4 * state_words(params), "scratch_bytes": 4 * scratch_words(params),
                "struct_bytes": struct_bytes(params), "weight_bytes": codegen.weight_bytes(params),
                "flash": sizes, "instructions_per_step": instructions or {},
                "kernel_files": [p.relative_to(KERNELS_DIR).as_posix() for p in kernel_files()]}
        (tmp / "README.md").write_text(readme(name, info, params, manifest, pre, classes, summary))
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _write_live_example(artifact_dir: Path, out: Path, values: dict) -> None:
    """examples/live: the model on a recorded signal (the test split's raw frames: recorded_signal.h), a live line
    per step for `tinyrnn monitor`. Left out for a model without a test split (nothing recorded to replay)."""
    artifact = Artifact.open(artifact_dir)
    if not artifact.has(TEST_SPLIT_NAME):
        return
    out.mkdir(parents=True)
    for path in (TEMPLATES / "examples" / "live").iterdir():
        if path.suffix == ".in":
            (out / path.stem).write_text(_fill(path.read_text(), values))
        else:
            shutil.copyfile(path, out / path.name)
    signal = recorded_signal.RecordedSignal.from_artifact(artifact, sequences=LIVE_SEQUENCES)
    (out / "recorded_signal.h").write_text(recorded_signal.c_header(signal))


def struct_bytes(params: KernelParams) -> int:
    """sizeof(<name>_t) on a 32-bit core with 8-byte aligned int64 (Arm EABI, RV32)."""
    ints = 4 * (state_words(params) + scratch_words(params) + params.output_dim)
    ints = (ints + 7) & ~7
    return ints + 8 * params.input_dim + 8 + ((2 * params.input_dim + 7) & ~7)   # ... + sums, counters, x_q


def platformio_manifest(name: str, summary: str, params: KernelParams) -> dict:
    return {
        "name": name,
        "version": "1.0.0",
        "description": f"tinyrnn model {name}: {summary} (model {params.model_hash})",
        "keywords": ["tinyrnn", "gru", "lstm", "fixed-point", "tinyml"],
        "license": "MIT",
        "frameworks": "*",
        "platforms": "*",
        "build": {"srcDir": "src", "includeDir": "src", "flags": ["-O2"]},
        "export": {"exclude": ["examples/stream/build*"]},
        "examples": [{"name": "SerialStream", "base": "examples/SerialStream", "files": ["SerialStream.ino"]}],
    }


def readme(name: str, info: dict, params: KernelParams, manifest: dict, pre: Preprocess, classes, summary) -> str:
    uc = name.upper()
    sizes = info["flash"]
    if sizes:
        size_rows = "\n".join(
            f"| {CORE_NAMES.get(t, t)} | {v['code']:,} | {v['model_data']:,} | {v['code'] + v['model_data']:,} |"
            for t, v in sizes.items())
        size_text = ("Flash, measured with GCC 12 -O2 (arm-none-eabi-gcc; riscv64-unknown-elf-gcc -march=rv32imc "
                     "-mabi=ilp32) and `size` over the library's "
                     "objects (every function kept, the other cell kind's step included: tr_model.c calls either):\n\n"
                     "| core | code + tables (bytes) | model data (bytes) | total |\n|---|---|---|---|\n" + size_rows)
    else:
        size_text = f"Flash: not measured (no arm-none-eabi-gcc at export); model data {info['weight_bytes']:,} bytes."
    counts = info["instructions_per_step"]
    how = {"m0": "unicorn emulator", "m4": "unicorn emulator",
           "rv32imc": "minstret on QEMU's virt machine under -icount (the kit's qemu-riscv32-virt firmware: "
                      "the same kernel sources and model data, -O2)"}
    if counts:
        count_text = ("Instructions per model step (`tinyrnn_step`), executed instructions, not cycles: no wait "
                      "states or pipeline effects:\n\n| core | instructions per step | counted by |\n"
                      "|---|---|---|\n" + "\n".join(f"| {CORE_NAMES.get(c, c)} | {n:,} | {how.get(c, '')} |"
                                                   for c, n in counts.items()) +
                      "\n\nThe pre-processing adds a multiply-add per channel (a 64-bit multiply helper on Cortex-M0 "
                      "and RV32).")
        if not {"m0", "m4"} <= set(counts):     # the base install: no unicorn to count them in
            count_text += ("\n\nCortex-M0/M4: not counted at export (it needs arm-none-eabi-gcc and the unicorn "
                           "emulator: `pip install 'tinyrnn[bench]'`).")
    else:
        count_text = "Instructions per step: not measured at export (`tinyrnn bench` measures the kernels)."
    norm = "\n".join(f"| {i} | {m:.6g} | {s:.6g} |" for i, (m, s) in
                     enumerate(zip(params.norm_mean.tolist(), params.norm_std.tolist())))
    rate = manifest.get("sample_rate_hz")
    rate_text = (f"{rate} Hz" if rate else "not recorded in the model (model.json has no sample_rate_hz): feed "
                 "frames at the rate of the recordings the model was trained on")
    class_text = ", ".join(f"{k} {c}" for k, c in enumerate(classes)) if classes else "none (regression)"
    push_int_units = (f"value = raw * scale per channel {info['int_scale']}" if info['int_scale'] else
                      f"raw = value * 2^{pre.float_bits} (integers of 2^-{pre.float_bits} units)")
    return f"""# {name}: a tinyrnn model library

{summary}. Model hash `{params.model_hash}`; generated by `tinyrnn export --lib` from `{info['source']}`.
Plain C99, no heap, no float needed (an integer API folds the normalisation in), C++-safe header.
The integers it computes are bit-exact with the kit's Python twin on every core.

## Files

| path | what |
|---|---|
| `src/{name}.h` | the whole API (include only this) |
| `src/{name}.c` | the API: pre-processing folded into integers, outputs, class names |
| `src/model_data.{{h,c}}` | the model's weights, generated |
| `src/tinyrnn.h`, `src/tr_*` | the tinyrnn kernels |
| `CMakeLists.txt`, `cmake/` | a CMake library target `{name}`; toolchain files for Cortex-M and RV32 |
| `{name}.mk` | a Makefile fragment |
| `library.properties`, `examples/SerialStream/` | an Arduino library (the `src/` layout) |
| `library.json` | a PlatformIO library |
| `examples/stream/` | a streaming loop over test sequences, `expected.txt` its bit-exact output |
| `examples/live/` | the model on a recorded signal, one live line per step for `tinyrnn monitor` (`<name>_live_line`) |
| `examples/record/` | sample lines for `tinyrnn record` at the sensor's rate (a recorded signal as the sensor) |

## The model

- Inputs: {params.input_dim} channel(s) per frame, raw values in the unit of the training data (the library
  normalises). {pre.downsample} frame(s) averaged per model step (`{uc}_DOWNSAMPLE`).
- Sample rate: {rate_text}.
- Outputs: {params.output_dim}, {"softmax probabilities" if classes else "regression values"}; classes: {class_text}.
- Normalisation the library applies (`(value - mean) / std`):

| channel | mean | std |
|---|---|---|
{norm}

## API

```c
#include "{name}.h"
static {name}_t model;              /* sizeof({name}_t) = {info['struct_bytes']} bytes on a 32-bit core: all its RAM */
{name}_init(&model);
/* for each frame of {params.input_dim} values: */
if ({name}_push_float(&model, frame)) {{   /* or {name}_push_int(&model, raw) without float */
    int k = {name}_argmax(&model);
    /* {name}_class_name(k), {name}_output(&model, k) (float), {name}_output_q(&model, k) (integer) */
}}
{name}_reset(&model);               /* before an unrelated sequence */
```

- `{name}_push_int(m, raw)`: {push_int_units}; no floating point at all.
  `tinyrnn export --lib OUT --model DIR --int-scale S[,S...]` folds your sensor's own scale (units per count) instead.
- `{name}_push_float(m, x)`: float values; identical integers on every core (see `src/{name}.c`).
- `{name}_step_q(m, x_q)`: the kernel's own int16 Q{params.input_frac_bits} normalised inputs.
- `{name}_output_q`, `{name}_output`, `{name}_argmax`, `{name}_class_name`, `{name}_kernel_path`.
- `{name}_live_start`, `{name}_live_line`, `{uc}_LIVE_RESET`: live lines for `tinyrnn monitor` (its docs:
  "Live lines from a board"), written into your buffer of `{uc}_LIVE_LINE_MAX` bytes; no printf, no heap.
- Constants: `{uc}_MODEL_HASH`, `{uc}_INPUT_DIM`, `{uc}_OUTPUT_DIM`, `{uc}_UNITS`, `{uc}_LAYERS`,
  `{uc}_STATE_BYTES`, `{uc}_SCRATCH_BYTES`, `{uc}_WEIGHT_BYTES`, ... (see the header).
- One model library per firmware: the kernel symbols (`tinyrnn_*`, `tr_*`) are shared names.

## Memory

- RAM: the caller's `{name}_t`, {info['struct_bytes']} bytes (state {info['state_bytes']}, scratch
  {info['scratch_bytes']}, outputs, frame sums); no heap, no other mutable globals. Stack depth: not
  measured for this export.
- {size_text}

## Speed

{count_text}

## Compile flags

The kernel path follows from the compiler's target: `-mcpu=cortex-m4`/`m7`/`m33` (DSP instructions),
`-mcpu=cortex-m0`/`m0plus` (Thumb-1 assembly), `-mcpu=cortex-m3` (Thumb-2 assembly),
`-march=rv32im`/`rv32imc`/`rv32imac` (RV32IM assembly), anything else plain C. `-DTINYRNN_PLAIN_C=1` forces plain C
(CMake: `-D{uc}_KERNEL_PATH=c`). `-D{uc}_NO_FLOAT=1` leaves out the float API. The library compiles itself
with `-O2` (the speed above); it needs `-lgcc` for 64-bit multiplies on Cortex-M0 and RV32.

## Build

CMake, on the host:

```sh
cmake -S . -B build-host && cmake --build build-host && ./build-host/examples/stream/stream
```

Cortex-M4 (float frames) on QEMU's mps2-an386, Cortex-M0 (integer frames) on QEMU's micro:bit:

```sh
cmake -S . -B build-m4 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake -DTINYRNN_CPU=cortex-m4 \\
      -DSTREAM_BOARD=mps2-an386
cmake --build build-m4
qemu-system-arm -M mps2-an386 -display none -monitor none -serial none \\
    -semihosting-config enable=on,target=native -kernel build-m4/examples/stream/stream.elf

cmake -S . -B build-m0 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake -DTINYRNN_CPU=cortex-m0 -DSTREAM_BOARD=microbit
cmake --build build-m0
qemu-system-arm -M microbit -display none -monitor none -serial none \\
    -semihosting-config enable=on,target=native -kernel build-m0/examples/stream/stream.elf
```

RISC-V rv32imc (the RV32IM assembly path, integer frames) on QEMU's virt machine (Debian: `gcc-riscv64-unknown-elf`,
`qemu-system-misc`):

```sh
cmake -S . -B build-rv32 -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32-unknown-elf.cmake -DSTREAM_BOARD=riscv-virt
cmake --build build-rv32
qemu-system-riscv32 -M virt -bios none -display none -monitor none -serial none \\
    -semihosting-config enable=on,target=native -kernel build-rv32/examples/stream/stream.elf
```

Each run prints a header line, one `seq` line per test sequence and `done`. Bit-exact means the `seq` lines
equal `examples/stream/expected.txt` (float frames) or `expected_int.txt` (integer frames):

```sh
qemu-system-arm ... 2>&1 | grep '^seq' | diff - examples/stream/expected.txt
```

`examples/record` prints sample lines for `tinyrnn record` (`{name}_sample_line_float`, `_header_line`,
`_rate_line`) at the sensor's rate, forever (`-DRECORD_PASSES=N` for N passes); a recorded signal
(`recorded_signal.h`) stands in for the sensor. Its output on a pty, to record from:

```sh
qemu-system-arm -M mps2-an386 -display none -monitor none -serial none -chardev pty,id=out \\
    -semihosting-config enable=on,target=native,chardev=out -kernel build-m4/examples/record/record.elf
tinyrnn record --port /dev/pts/N --label walking --seconds 10 --out my_data.csv   # N: as QEMU says
```

In your own CMake project: `add_subdirectory(path/to/{name})` and `target_link_libraries(app PRIVATE {name})`.
With make: `include path/to/{name}/{name}.mk`, then link `$({uc}_LIB)` and add `$({uc}_CFLAGS)` (see the file).
Arduino: copy the folder into your libraries folder; File > Examples > {name} > SerialStream.
PlatformIO: put the folder in `lib/`.
"""
