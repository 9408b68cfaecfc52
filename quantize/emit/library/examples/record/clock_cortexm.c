/* The clock on a Cortex-M: SysTick on the CPU clock (CLOCK_CPU_HZ), free-running over its 24 bits without an
 * interrupt (the example's vector table has no SysTick handler). clock_us() must run at least once per wrap
 * (2^24 / CLOCK_CPU_HZ: 0.67 s at 25 MHz), as the example's pacing loop does. */
#include "clock.h"

#ifndef CLOCK_CPU_HZ
#error "define CLOCK_CPU_HZ, the core clock SysTick counts (25000000 on QEMU's MPS2 boards)"
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_MASK 0x00FFFFFFu

static uint32_t last_count;   /* SysTick's value at the previous read (it counts down) */
static uint64_t ticks;        /* CPU clock ticks since clock_start */

void clock_start(void)
{
    SYST_RVR = SYST_MASK;
    SYST_CVR = 0;
    SYST_CSR = 5u;            /* enable, CPU clock, no interrupt */
    last_count = SYST_CVR & SYST_MASK;
    ticks = 0;
}

uint32_t clock_us(void)
{
    const uint32_t now = SYST_CVR & SYST_MASK;
    ticks += (last_count - now) & SYST_MASK;
    last_count = now;
    return (uint32_t)(ticks / (CLOCK_CPU_HZ / 1000000u));
}
