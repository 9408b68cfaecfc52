/* Latency on a host: CLOCK_MONOTONIC in microseconds (wall-clock time: noisy on a busy machine). */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "ticks.h"

const char *const TICKS_UNIT = "us";

void ticks_init(void)
{
}

uint32_t ticks_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u);
}

uint32_t ticks_between(uint32_t start, uint32_t end)
{
    return end - start;
}
