"""Run a Cortex-M or RV32 build of the kernels in unicorn (no peripherals) and count executed instructions.

The image is quantize/drivers/bench_driver.c + the kernels + a generated model, linked flat by
`quantize.build.build_arm_image`. Instruction counts are exact counts of executed instructions (a code
hook fires once per instruction, conditional ones included); they are not cycles: no wait states,
pipeline or branch costs are modelled.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from unicorn import UC_ARCH_ARM, UC_ARCH_RISCV, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_RISCV32, UC_MODE_THUMB, Uc
from unicorn import arm_const as arm
from unicorn import riscv_const as riscv

from tinyrnn.quantize import targets
from tinyrnn.quantize.toolchain import build
from tinyrnn.quantize.twin.cells import scratch_words, state_words

FLASH_BASE, FLASH_SIZE = 0x00000000, 0x00100000
RAM_BASE, RAM_SIZE = 0x20000000, 0x00040000
HALT_ADDRESS = FLASH_SIZE - 0x100          # a `b .` the driver functions return to
STACK_PAINT = 0x4000                       # bytes below the initial stack pointer painted to find the high-water mark
PAINT_BYTE = 0xA5
BENCH_MAX_STEPS = 64                       # BENCH_MAX_STEPS in bench_driver.c
CPU_MODELS = {name: getattr(riscv if core.family == "riscv" else arm, core.unicorn_model)
              for name, core in targets.bench_cores().items()}


@dataclass(frozen=True)
class Machine:
    """What unicorn needs of a family: the mode, the stack pointer and return address registers, the code bit of
    an address (Thumb), the endless loop at HALT_ADDRESS."""
    arch: int
    mode: int
    sp: int
    ra: int
    code_bit: int
    halt: bytes


MACHINES = {
    "cortexm": Machine(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS, arm.UC_ARM_REG_SP, arm.UC_ARM_REG_LR, 1,
                       b"\xfe\xe7"),                                        # b .
    "riscv": Machine(UC_ARCH_RISCV, UC_MODE_RISCV32, riscv.UC_RISCV_REG_SP, riscv.UC_RISCV_REG_RA, 0,
                     (0x0000006F).to_bytes(4, "little")),                  # j .
}


class EmulatedModel:
    """A model image loaded in unicorn: reset(), run(x_q) -> y, with optional instruction counting."""

    def __init__(self, model_c_dir: Path, params, target: str, workdir: Path):
        self.params, self.target = params, target
        self.elf, image = build.build_arm_image(model_c_dir, target, workdir)
        self.symbols = build.symbols(self.elf)
        self.machine = MACHINES[targets.bench_cores()[target].family]
        self.uc = Uc(self.machine.arch, self.machine.mode)
        self.uc.ctl_set_cpu_model(CPU_MODELS[target])
        self.uc.mem_map(FLASH_BASE, FLASH_SIZE)
        self.uc.mem_map(RAM_BASE, RAM_SIZE)
        self.uc.mem_write(FLASH_BASE, image.read_bytes())
        self.uc.mem_write(HALT_ADDRESS, self.machine.halt)
        io = self.symbols["tinyrnn_bench_io"]
        words = state_words(params) + scratch_words(params)
        self.steps_addr = io
        self.x_addr = io + 4 + 4 * words
        self.y_addr = (self.x_addr + 2 * BENCH_MAX_STEPS * params.input_dim + 3) & ~3
        self.instructions = 0
        self.per_address = None                                  # address -> count, when profiling
        self.stack_bytes = 0                                     # deepest stack use of any call so far
        self.taken, self._previous, self.trace = {}, (None, 0), None

    def _count(self, uc, address, size, user_data):
        self.instructions += 1

    def _count_address(self, uc, address, size, user_data):
        self.instructions += 1
        self.per_address[address] = self.per_address.get(address, 0) + 1
        prev, prev_size = self._previous
        if prev is not None and address != prev + prev_size:     # control left `prev` for elsewhere
            self.taken[prev] = self.taken.get(prev, 0) + 1
        self._previous = (address, size)

    def profile(self, x_q) -> dict:
        """Run x_q like `run` and return {function name: executed instructions} (from the ELF's symbols).
        The trace stays in self.trace: (address -> executions, address -> executions that branched away)."""
        self.per_address, self.taken, self._previous = {}, {}, (None, 0)
        try:
            self.run(x_q, count=True)
            counts = dict(self.per_address)
            self.trace = (counts, dict(self.taken))
        finally:
            self.per_address = None
        funcs = sorted(build.function_ranges(self.elf))
        out = {}
        for address, n in counts.items():
            name = "?"
            for start, end, fname in funcs:
                if start <= address < end:
                    name = fname
                    break
            out[name] = out.get(name, 0) + n
        return dict(sorted(out.items(), key=lambda item: -item[1]))

    def _call(self, name: str, count: bool) -> int:
        self.uc.reg_write(self.machine.sp, RAM_BASE + RAM_SIZE)
        self.uc.reg_write(self.machine.ra, HALT_ADDRESS | self.machine.code_bit)
        top = RAM_BASE + RAM_SIZE
        self.uc.mem_write(top - STACK_PAINT, bytes([PAINT_BYTE]) * STACK_PAINT)
        before = self.instructions
        counter = self._count if self.per_address is None else self._count_address
        hook = self.uc.hook_add(UC_HOOK_CODE, counter) if count else None   # slow: only when asked
        try:
            self.uc.emu_start(self.symbols[name] | self.machine.code_bit, HALT_ADDRESS)
        finally:
            if hook is not None:
                self.uc.hook_del(hook)
        painted = bytes(self.uc.mem_read(top - STACK_PAINT, STACK_PAINT))
        untouched = len(painted) - len(painted.lstrip(bytes([PAINT_BYTE])))
        self.stack_bytes = max(self.stack_bytes, STACK_PAINT - untouched)   # high-water mark (a pushed 0xA5 byte
        return self.instructions - before                                    # at the edge would read as unused)

    def reset(self) -> None:
        self._call("tinyrnn_bench_reset", False)

    def run(self, x_q, count: bool = False) -> tuple[np.ndarray, int]:
        """Continue from the current state over x_q int16 (T, d): (y int32 (T, k), executed instructions)."""
        x_q = np.asarray(x_q, dtype="<i2")
        ys, total = [], 0
        for start in range(0, len(x_q), BENCH_MAX_STEPS):
            chunk = x_q[start:start + BENCH_MAX_STEPS]
            self.uc.mem_write(self.steps_addr, np.int32(len(chunk)).tobytes())
            self.uc.mem_write(self.x_addr, chunk.tobytes())
            total += self._call("tinyrnn_bench_run", count)
            raw = self.uc.mem_read(self.y_addr, 4 * len(chunk) * self.params.output_dim)
            ys.append(np.frombuffer(bytes(raw), dtype="<i4").reshape(len(chunk), -1))
        return np.concatenate(ys), total
