/* The record example's one need beyond port.h: a microsecond clock to pace the samples (clock_host.c,
 * clock_cortexm.c, clock_riscv.c). In your firmware: your timer, or a sensor that interrupts at its rate. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

void clock_start(void);
uint32_t clock_us(void);    /* microseconds since clock_start (wraps after ~71 minutes: compare differences) */

#endif
