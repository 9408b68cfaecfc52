/* RISC-V (RV32, machine mode) reset: global and stack pointers, trap vector, .data copy, .bss clear, main().
 *
 * The symbols come from the generated linker script (firmware/platform/riscv/link.ld.in). The only interrupt
 * is the UART's receive interrupt, routed through the PLIC (platform_irq_enable); every exception is reported
 * on the link (app_fault) and stops, as Default_Handler does on Cortex-M. A locked PMP entry makes the 64 B
 * below the stack (link.ld.in, __stack_guard) inaccessible even to machine mode, so an overflow traps.
 */
#include <stdint.h>

#include "platform.h"
#include "riscv/riscv.h"

void UART_IRQHandler(void);
void trap_handler(void) __attribute__((interrupt("machine"), aligned(4), used));
void trap_entry(void);

/* _start is first in .text (the linker script keeps .text.start first), where QEMU's reset code jumps.
 * gp must be loaded with relaxation off, or the assembler would compute it from itself. */
__asm__(".section .text.start, \"ax\"\n"
        ".global _start\n"
        "_start:\n"
        "    .option push\n"
        "    .option norelax\n"
        "    la gp, __global_pointer$\n"
        "    .option pop\n"
        "    la sp, __stack_top\n"
        "    la t0, __stack_guard\n" /* PMP entry 0: NAPOT 64 B at the guard, locked, no access */
        "    srli t0, t0, 2\n"
        "    ori t0, t0, 0x7\n" /* NAPOT: 3 low ones = 2^(3+3) = 64 B */
        "    csrw pmpaddr0, t0\n"
        "    li t0, 0x98\n" /* L | A = NAPOT, R = W = X = 0 */
        "    csrw pmpcfg0, t0\n"
        "    la t0, trap_entry\n"
        "    csrw mtvec, t0\n" /* direct mode: every trap to trap_entry */
        "    j platform_reset\n"
        /* An interrupt goes to trap_handler with every register as it was; an exception gets a fresh stack
         * (the faulting one may be what overflowed) and goes to app_fault(PLATFORM_FAULT_RISCV + mcause). */
        ".text\n"
        ".balign 4\n"
        "trap_entry:\n"
        "    csrw mscratch, t0\n"
        "    csrr t0, mcause\n"
        "    bltz t0, 1f\n"
        "    la sp, __stack_top\n"
        "    addi a0, t0, 0x100\n"
        "    j app_fault\n"
        "1:  csrr t0, mscratch\n"
        "    j trap_handler\n");

void platform_irq_enable(uint32_t irq)
{
    PLIC_PRIORITY(irq) = 1u; /* any priority above the threshold */
    PLIC_ENABLE(irq) |= 1u << (irq % 32u);
    PLIC_THRESHOLD = 0u;
    CSR_SET(mie, MIE_MEIE);
    CSR_SET(mstatus, MSTATUS_MIE);
}

void platform_irq_mask(void)
{
    CSR_CLEAR(mstatus, MSTATUS_MIE); /* the trap waits; WFI still wakes on a pending interrupt enabled in mie */
}

void platform_irq_unmask(void)
{
    CSR_SET(mstatus, MSTATUS_MIE);
}

void platform_sleep_until_interrupt(void)
{
    __asm__ volatile("wfi" : : : "memory");
}

void trap_handler(void)
{
    uint32_t cause = CSR_READ(mcause);
    if (cause == (MCAUSE_INTERRUPT | MCAUSE_MACHINE_EXTERNAL)) {
        uint32_t source = PLIC_CLAIM;
        if (source == BOARD_UART_IRQ) {
            UART_IRQHandler();
        }
        PLIC_CLAIM = source; /* complete */
    }
}
