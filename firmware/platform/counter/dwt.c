/* Latency counter on the DWT cycle counter (ARMv7-M silicon: Cortex-M3/M4/M7): real CPU cycles, 32-bit.
 * QEMU does not emulate it (reads 0), which is why emulated boards use SysTick instead. */
#include "platform.h"
#include "cortexm/cortexm.h"

#define DEMCR_TRCENA       (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_UNLOCK_KEY     0xC5ACCE55u

void counter_init(void)
{
    DEMCR |= DEMCR_TRCENA;    /* power the trace blocks, DWT included */
    DWT_LAR = DWT_UNLOCK_KEY; /* Cortex-M7 locks DWT writes; elsewhere the write is ignored */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

uint32_t counter_now(void)
{
    return DWT_CYCCNT;
}

uint32_t counter_elapsed(uint32_t start, uint32_t end)
{
    return end - start; /* up-counter, modulo 2^32 */
}
