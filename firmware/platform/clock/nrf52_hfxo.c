/* nRF52: the chip's bring-up before anything else runs: the debug port left open, the instruction cache on, and
 * the 32 MHz crystal oscillator started. The CPU runs at 64 MHz either way, but the UART's baud rate is derived
 * from HFCLK and the internal RC oscillator's tolerance is too loose for reliable serial.
 *
 * APPROTECT: from build code F0 on, the nRF52840 locks its debug port again at every reset unless the firmware
 * writes APPROTECT.DISABLE (pyOCD would then mass-erase at every flash, OpenOCD's program fail). A production
 * image that wants the protection builds with EXTRA_CFLAGS=-DTINYRNN_APPROTECT=1 and programs UICR.APPROTECT
 * (boards/nrf52840-dk/README.md: Protecting a production image). */
#include "platform.h"
#include "cortexm/cortexm.h"

#define CLOCK_TASKS_HFCLKSTART    REG32(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG32(0x40000100u)
#define APPROTECT_DISABLE         REG32(0x40000558u) /* nRF52840 build code F0+: SwDisable = 0x5A */
#define NVMC_ICACHECNF            REG32(0x4001E540u) /* CACHEEN bit0: off at reset */

#define APPROTECT_SW_DISABLE 0x5Au
#define ICACHECNF_CACHEEN    1u

void clock_init(void)
{
#if !TINYRNN_APPROTECT
    APPROTECT_DISABLE = APPROTECT_SW_DISABLE;
#endif
    /* Flash reads through the cache, as the STM32 build's ART accelerator: cycle counts as a user's code sees. */
    NVMC_ICACHECNF = ICACHECNF_CACHEEN;
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (!CLOCK_EVENTS_HFCLKSTARTED) {
    }
}
