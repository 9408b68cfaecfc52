/*
 * The example on a bare Cortex-M (M0 to M7) under a debugger or QEMU: vector table, reset handler and
 * semihosting (SYS_WRITE0, SYS_EXIT), nothing else. Run with QEMU's -semihosting-config enable=on,target=native.
 * In a real product your startup code and UART replace this file.
 */
#include <stddef.h>
#include <stdint.h>

#include "port.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];
int main(void);

static long semihost(long op, const void *arg)
{
    register long r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void port_init(void)
{
}

void port_write(const char *text)
{
    semihost(0x04, text);                                   /* SYS_WRITE0 */
}

void port_exit(int code)
{
    semihost(0x18, (const void *)(code == 0 ? 0x20026L : 0x20023L));  /* SYS_EXIT: ApplicationExit or error */
    for (;;) {
    }
}

void reset_handler(void)
{
    uint32_t *src = __data_load, *dst = __data_start;
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;        /* CPACR: CP10, CP11 full access (the FPU) */
    __asm__ volatile("dsb\n\tisb");
#endif
    while (dst < __data_end) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end; dst++) {
        *dst = 0;
    }
    port_exit(main());
}

static void fault_handler(void)
{
    port_write("fault\n");
    port_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler,
    fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler, fault_handler,
};

/* GCC may call these for loops and struct copies even in freestanding code. */
void *memset(void *s, int c, size_t n)
{
    unsigned char *p = s;
    while (n--) {
        *p++ = (unsigned char)c;
    }
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) {
        *p++ = *q++;
    }
    return d;
}
