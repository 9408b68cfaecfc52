/* The C start every family's startup jumps to (the porting contract's platform_reset, platform.h): .data
 * copied from flash, .bss cleared, the stack painted, then main(). The symbols come from the family's linker
 * template. */
#include <stdint.h>

#include "platform.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

/* What an unused stack word holds: a word the program is unlikely to store (not 0, not -1, not an address in
 * RAM or flash, not a small integer), so the first word that differs marks the deepest the stack has been. */
#define STACK_PAINT 0xC5A35A3Cu
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
    /* Paint the stack below this function's frame (64 bytes of headroom for the frame itself). */
    const uintptr_t frame = (uintptr_t)__builtin_frame_address(0) - 64u;
    for (uint32_t *dst = __stack_bottom; (uintptr_t)dst < frame;) {
        *dst++ = STACK_PAINT;
    }
    (void)main();
    for (;;) {
    }
}

uint32_t platform_stack_used(void)
{
    const uint32_t *word = __stack_bottom;
    while (word < __stack_top && *word == STACK_PAINT) {
        word++;
    }
    return (uint32_t)((const uint8_t *)__stack_top - (const uint8_t *)word);
}

uint32_t platform_stack_size(void)
{
    return (uint32_t)((const uint8_t *)__stack_top - (const uint8_t *)__stack_bottom);
}
