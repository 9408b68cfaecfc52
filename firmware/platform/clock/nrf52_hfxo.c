/* nRF52: start the 32 MHz crystal oscillator. The CPU runs at 64 MHz either way, but the UART's baud rate
 * is derived from HFCLK and the internal RC oscillator's tolerance is too loose for reliable serial. */
#include "platform.h"
#include "cortexm/cortexm.h"

#define CLOCK_TASKS_HFCLKSTART    REG32(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG32(0x40000100u)

void clock_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
}
