/* The C start every family's startup jumps to (the porting contract's platform_reset, platform.h): .data
 * copied from flash, .bss cleared, then main(). The symbols come from the family's linker template. */
#include <stdint.h>

#include "platform.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern int main(void);

void platform_reset(void)
{
    /* Plain word loops: the build uses -fno-tree-loop-distribute-patterns, so these do not turn into
     * calls to memcpy/memset (which would run before .data exists). */
    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    (void)main();
    for (;;) {
    }
}
