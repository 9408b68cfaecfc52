/* RISC-V (RV32, machine mode) reset: global and stack pointers, trap vector, .data copy, .bss clear, main().
 *
 * The symbols come from the generated linker script (firmware/platform/riscv/link.ld.in). The only interrupt
 * is the UART's receive interrupt, routed through the PLIC (platform_irq_enable); every exception stops in
 * a loop, as Default_Handler does on Cortex-M.
 */
#include <stdint.h>

#include "platform.h"
#include "riscv/riscv.h"

void UART_IRQHandler(void);
void trap_handler(void) __attribute__((interrupt("machine"), aligned(4), used));

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
        "    la t0, trap_handler\n"
        "    csrw mtvec, t0\n" /* direct mode: every trap to trap_handler */
        "    j platform_reset\n");

void platform_irq_enable(uint32_t irq)
{
    PLIC_PRIORITY(irq) = 1u; /* any priority above the threshold */
    PLIC_ENABLE(irq) |= 1u << (irq % 32u);
    PLIC_THRESHOLD = 0u;
    CSR_SET(mie, MIE_MEIE);
    CSR_SET(mstatus, MSTATUS_MIE);
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
        return;
    }
    for (;;) { /* an exception: stop here, visible to a debugger (mcause, mepc) */
    }
}
