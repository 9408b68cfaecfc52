/* Cortex-M reset: vector table, FPU enable, .data copy, .bss clear, then main().
 *
 * The symbols come from the generated linker script (firmware/platform/cortexm/link.ld.in). The only interrupt
 * is the UART's receive interrupt (platform_irq_enable); every exception goes to one handler that reports the
 * fault on the link (app_fault) and stops.
 */
#include <stdint.h>

#include "platform.h"
#include "cortexm/cortexm.h"

extern uint32_t __stack_top[];

void Reset_Handler(void);
void Default_Handler(void);
void UART_IRQHandler(void);

/* The reset handler proper is naked assembly so that on FPU boards CPACR is set before the compiler can
 * emit any floating-point or FP-register instruction (it may use them even for plain copy loops). */
__attribute__((naked)) void Reset_Handler(void)
{
    __asm volatile(
#if BOARD_HAS_FPU
        "ldr r0, =0xE000ED88\n" /* SCB->CPACR */
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xF << 20)\n" /* CP10, CP11: full access */
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n" /* the FPU is usable from the next instruction */
#endif
        "b platform_reset\n");
}

void platform_irq_enable(uint32_t irq)
{
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u); /* PRIMASK is clear from reset: enabled at the core already */
}

void platform_irq_mask(void)
{
    __asm volatile("cpsid i" : : : "memory"); /* PRIMASK: the handler waits; a pending interrupt still wakes WFI */
}

void platform_irq_unmask(void)
{
    __asm volatile("cpsie i" : : : "memory");
}

void platform_sleep_until_interrupt(void)
{
    __asm volatile("wfi" : : : "memory");
}

/* Every exception but reset and the UART's: a fault. The stack is moved back to its top first: an overflow runs
 * off RAM's bottom edge (the stack sits there: link.ld.in), so the faulting stack may be unusable. Then the app
 * reports it (app_fault) and stops. Only r0/r1 and sp change: a debugger still sees the rest. */
__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile("ldr r0, =__stack_top\n"
                   "mov sp, r0\n"
                   "mrs r0, ipsr\n" /* the exception number: app_fault's argument */
                   "ldr r1, =app_fault\n"
                   "bx r1\n");
}

/* ARMv6-M/ARMv7-M system exceptions, then device interrupts up to the UART's (the others stay disabled). */
__attribute__((section(".vectors"), used)) static void (*const vector_table[16 + BOARD_UART_IRQ + 1])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, /* initial stack pointer */
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage (ARMv7-M) */
    Default_Handler, /* BusFault (ARMv7-M) */
    Default_Handler, /* UsageFault (ARMv7-M) */
    0,               /* reserved */
    0,               /* reserved */
    0,               /* reserved */
    0,               /* reserved */
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor (ARMv7-M) */
    0,               /* reserved */
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick (not enabled: the counter is read, not interrupted) */
    [16 + BOARD_UART_IRQ] = UART_IRQHandler,
};
