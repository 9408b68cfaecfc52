/* The clock on a host: POSIX CLOCK_MONOTONIC. */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "clock.h"

static struct timespec started;

void clock_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &started);
}

uint32_t clock_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)((now.tv_sec - started.tv_sec) * 1000000L + (now.tv_nsec - started.tv_nsec) / 1000L);
}
