/* Latency counter on SysTick, clocked by the CPU (CLKSOURCE=1), free-running over its full 24-bit range.
 *
 * SysTick counts DOWN and wraps every 2^24 ticks; the elapsed time between two readings is therefore
 * (start - end) mod 2^24, exact for any interval shorter than 2^24 ticks (0.67 s at 25 MHz, 0.1 s at
 * 168 MHz) -- far longer than one kernel step, and the app times each step on its own.
 * No interrupt is used, so nothing but the measured code runs between two readings.
 * On QEMU with -icount shift=0 each instruction takes 1 ns of virtual time, so a tick stands for
 * 1e9 / BOARD_CPU_CLOCK_HZ executed instructions (not cycles); the host does that conversion.
 */
#include "platform.h"
#include "cortexm/cortexm.h"

#define SYST_MASK         0x00FFFFFFu
#define CSR_ENABLE        (1u << 0)
#define CSR_CLKSOURCE_CPU (1u << 2)

void counter_init(void)
{
    SYST_CSR = 0u;
    SYST_RVR = SYST_MASK;
    SYST_CVR = 0u; /* any write clears the current value */
    SYST_CSR = CSR_CLKSOURCE_CPU | CSR_ENABLE;
}

uint32_t counter_now(void)
{
    return SYST_CVR;
}

uint32_t counter_elapsed(uint32_t start, uint32_t end)
{
    return (start - end) & SYST_MASK; /* down-counter */
}
