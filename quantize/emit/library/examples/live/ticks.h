/* The live example's latency counter: ticks_now() readings, ticks_between() their difference in TICKS_UNIT
 * ("us", "cycles" or "instructions": what the count really is, as live lines state it). ticks_host.c: a host's
 * monotonic clock in microseconds; ticks_cortexm.c: SysTick, core clock cycles. */
#ifndef TICKS_H
#define TICKS_H

#include <stdint.h>

extern const char *const TICKS_UNIT;

void ticks_init(void);
uint32_t ticks_now(void);
uint32_t ticks_between(uint32_t start, uint32_t end);

#endif
