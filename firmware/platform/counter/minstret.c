/* Latency counter on RISC-V's minstret CSR: instructions retired (low 32 bits), counting up.
 *
 * It counts instructions on silicon and in QEMU alike (under -icount shift=0 QEMU's minstret is its instruction
 * count), so the figure is executed instructions, not cycles, everywhere; INFO reports counter_hz = 1e9
 * (BOARD_COUNTER_HZ), which makes the host's conversion (ticks x 1e9 / counter_hz) the identity.
 * The difference of two readings is exact for any interval under 2^32 instructions.
 */
#include "platform.h"
#include "riscv/riscv.h"

void counter_init(void)
{
}

uint32_t counter_now(void)
{
    return CSR_READ(minstret);
}

uint32_t counter_elapsed(uint32_t start, uint32_t end)
{
    return end - start; /* up-counter, modulo 2^32 */
}
