/* Latency on a Cortex-M: SysTick on the core clock (CLKSOURCE=1), counting down over 24 bits, so one step must
 * take under 2^24 cycles. On silicon these are core clock cycles. Under QEMU with -icount shift=0 one cycle of
 * the emulated clock is (1e9 / clock_hz) executed instructions (40 on the 25 MHz MPS2 boards): there, multiply
 * by that and call the unit "instructions" (-DTICKS_INSTRUCTIONS_PER_TICK=40). */
#include "ticks.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

#ifdef TICKS_INSTRUCTIONS_PER_TICK
const char *const TICKS_UNIT = "instructions";
#define TICK_SCALE TICKS_INSTRUCTIONS_PER_TICK
#else
const char *const TICKS_UNIT = "cycles";
#define TICK_SCALE 1u
#endif

void ticks_init(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 0x5u; /* enable, core clock, no interrupt */
}

uint32_t ticks_now(void)
{
    return SYST_CVR;
}

uint32_t ticks_between(uint32_t start, uint32_t end)
{
    return ((start - end) & 0x00FFFFFFu) * (uint32_t)TICK_SCALE; /* it counts down */
}
