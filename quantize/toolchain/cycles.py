"""Cycle ESTIMATES from an instruction trace: per-instruction timings of Cortex-M0/M3/M4 applied to the counts.

`tinyrnn bench --profile` counts how often each address executes and how often control left it for somewhere
other than the next instruction (a taken branch, a load to the PC, a call or return). `estimate` prices each
executed instruction by its mnemonic with the table of its core below and adds `wait_states` cycles per
instruction fetched from flash (a board parameter: 0 for zero-wait-state flash or code in RAM). It is an
estimate, and is labelled so wherever it is shown: it ignores load/store pipelining (consecutive loads cost
less on M3/M4), interlocks, unaligned 32-bit instructions, bus contention and fetch buffering (which hides
much of the flash wait states on real parts). Cortex-M7 is dual-issue with branch prediction: not estimated.

The timings (cycles; "+P" is the pipeline refill of a taken branch or a write to the PC):
  - Cortex-M0 (Technical Reference Manual, instruction timings): data processing 1; MULS 1 (the fast
    multiplier, as on nRF51); LDR/STR and friends 2; LDM/STM/PUSH 1+N; POP with PC 3+N (+P); B taken 3,
    not taken 1; BL 4; BX/BLX 3.
  - Cortex-M3 (TRM DDI 0337, table "Instruction timings"): data processing 1 (+P if PC is the destination);
    MUL 1; MLA/MLS 2; SMULL/UMULL/SMLAL/UMLAL 3..7, taken as 5; SDIV/UDIV 2..12, taken as 7; single load
    or store 2; LDRD/STRD 3; LDM/STM/PUSH/POP 1+N (+P if PC is loaded); branches 1, + P = 2 when taken;
    LDR PC 2+P; IT 1 (counted as an instruction by the trace as well).
  - Cortex-M4 (TRM DDI 0439, instruction set summary): as M3, except that every multiply, including the
    long and the DSP ones (SMLAL, SMLALD, SMLAD, SMUAD, SMLATB, SMMLAR), is 1 and MLA/MLS are 2.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

CORES = ("m0", "m3", "m4")       # cores with an estimate (M7: dual issue, not modelled)
REFILL = 2                        # P: pipeline refill cycles after a taken branch or a write to the PC (M3/M4)

_LONG_MUL = {"smull", "umull", "smlal", "umlal"}
_DSP_MUL = {"smlald", "smlad", "smuad", "smlatb", "smlabb", "smulbb", "smultb", "smmlar", "smmla", "smmul",
            "smmulr", "smlabt", "smlatt", "smulbt", "smultt", "smlaw", "smulwb", "smulwt", "smusd", "smlsd"}


def disassemble(elf: Path) -> dict[int, tuple[str, str]]:
    """address -> (mnemonic without condition/width suffixes, operands) of the ELF's code (arm-none-eabi-objdump)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if not m or m.group(2).startswith("."):
            continue
        mnemonic = m.group(2).lower().split(".")[0]
        table[int(m.group(1), 16)] = (mnemonic, m.group(3).split(";")[0].strip())
    return table


def _registers(operands: str) -> int:
    """Registers in a {list} (LDM/STM/PUSH/POP), ranges counted."""
    m = re.search(r"\{([^}]*)\}", operands)
    if not m:
        return 1
    n = 0
    for item in m.group(1).split(","):
        item = item.strip()
        if "-" in item:
            lo, hi = (int(x.strip().lstrip("r")) for x in item.split("-"))
            n += hi - lo + 1
        elif item:
            n += 1
    return n


_CONDS = ("eq", "ne", "cs", "cc", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")


def _base(mnemonic: str) -> str:
    """The mnemonic without a condition suffix (beq -> b, addne -> add) or an S suffix (adds -> add)."""
    for known in ("bl", "bx", "blx", "b", "ldm", "stm", "ldrd", "strd", "push", "pop", "cbz", "cbnz"):
        if mnemonic == known:
            return known
    if len(mnemonic) > 2 and mnemonic[-2:] in _CONDS and mnemonic[:-2] in ("b", "bx", "ldr", "add", "mov", "str",
                                                                            "sub", "ldrd", "orr", "and"):
        mnemonic = mnemonic[:-2]
    return mnemonic


def instruction_cycles(core: str, mnemonic: str, operands: str, taken: bool) -> int:
    """Cycles of one execution of an instruction on `core` (module docstring); `taken`: control did not go on
    to the next instruction."""
    base = _base(mnemonic)
    writes_pc = bool(re.match(r"pc\b", operands)) or ("pc" in operands and base in ("pop", "ldm", "ldmia"))
    if core == "m0":
        if base in ("b", "bcc", "bcs") or (base.startswith("b") and len(base) == 3 and base[1:] in _CONDS):
            return 3 if taken else 1
        if base == "bl":
            return 4
        if base in ("bx", "blx"):
            return 3
        if base in ("pop", "push", "ldm", "ldmia", "stm", "stmia"):
            return 1 + _registers(operands) + (2 if writes_pc else 0)
        if base.startswith("ldr") or base.startswith("str"):
            return 2
        return 1
    # Cortex-M3 / M4
    refill = REFILL if taken else 0
    if base in ("b", "bl", "bx", "blx", "cbz", "cbnz") or (base.startswith("b") and base[1:] in _CONDS):
        return 1 + refill
    if base in ("pop", "push", "ldm", "ldmia", "stm", "stmia", "stmdb", "ldmdb"):
        return 1 + _registers(operands) + (REFILL if writes_pc else 0)
    if base in ("ldrd", "strd"):
        return 3
    if base.startswith("ldr") or base.startswith("str"):
        return 2 + (REFILL if writes_pc else 0)
    if base in ("sdiv", "udiv"):
        return 7
    if base in ("mla", "mls"):
        return 2
    if base.rstrip("s") in _LONG_MUL:
        return 5 if core == "m3" else 1
    return 1 + (REFILL if writes_pc else 0)


def estimate(core: str, counts: dict[int, int], taken: dict[int, int], code: dict[int, tuple[str, str]],
             wait_states: int = 0) -> int:
    """Estimated cycles of a trace: counts = address -> executions, taken = address -> executions that left it
    for another place than the next instruction; code = disassemble(elf)."""
    if core not in CORES:
        raise ValueError(f"no cycle estimate for {core} (estimated: {', '.join(CORES)})")
    total = 0
    for address, n in counts.items():
        mnemonic, operands = code.get(address, ("?", ""))
        t = taken.get(address, 0)
        total += (n - t) * instruction_cycles(core, mnemonic, operands, False)
        total += t * instruction_cycles(core, mnemonic, operands, True)
        total += n * wait_states
    return total
