/*
 * The example on a bare RV32 core under QEMU (machine virt, -bios none): entry, stack, .bss and semihosting
 * (SYS_WRITE0, SYS_EXIT). Run with QEMU's -semihosting-config enable=on,target=native.
 * In a real product your startup code and UART replace this file.
 */
#include <stddef.h>
#include <stdint.h>

#include "port.h"

extern uint32_t __bss_start[], __bss_end[];
int main(void);

/* The semihosting trap: ebreak between two marker instructions, all uncompressed. */
static long semihost(long op, const void *arg)
{
    register long a0 __asm__("a0") = op;
    register const void *a1 __asm__("a1") = arg;
    __asm__ volatile(".option push\n\t.option norvc\n\t"
                     ".balign 16\n\t"
                     "slli zero, zero, 0x1f\n\tebreak\n\tsrai zero, zero, 7\n\t"
                     ".option pop"
                     : "+r"(a0) : "r"(a1) : "memory");
    return a0;
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

void c_start(void)
{
    uint32_t *p;
    for (p = __bss_start; p < __bss_end; p++) {
        *p = 0;
    }
    port_exit(main());
}

__asm__(".section .text.start\n"
        ".global _start\n"
        "_start:\n"
        "    .option push\n    .option norelax\n    la gp, __global_pointer$\n    .option pop\n"
        "    la sp, __stack_top\n"
        "    j c_start\n");

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
