/* The clock on QEMU's RISC-V virt machine: the CLINT's 64-bit mtime at 10 MHz. */
#include "clock.h"

#define MTIME_LO (*(volatile uint32_t *)0x0200BFF8u)
#define MTIME_HI (*(volatile uint32_t *)0x0200BFFCu)
#define MTIME_HZ 10000000u

static uint64_t started;

static uint64_t mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = MTIME_HI;
        lo = MTIME_LO;
    } while (hi != MTIME_HI);
    return ((uint64_t)hi << 32) | lo;
}

void clock_start(void)
{
    started = mtime();
}

uint32_t clock_us(void)
{
    return (uint32_t)((mtime() - started) / (MTIME_HZ / 1000000u));
}
