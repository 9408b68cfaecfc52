/* Cortex-M core registers (ARMv6-M / ARMv7-M System Control Space) used by the platform code. */
#ifndef TINYRNN_CORTEXM_H
#define TINYRNN_CORTEXM_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* SysTick */
#define SYST_CSR REG32(0xE000E010u) /* control and status: ENABLE bit0, TICKINT bit1, CLKSOURCE bit2 */
#define SYST_RVR REG32(0xE000E014u) /* reload value (24 bits) */
#define SYST_CVR REG32(0xE000E018u) /* current value, counts down */

/* Debug: trace enable and the DWT cycle counter (ARMv7-M only) */
#define DEMCR      REG32(0xE000EDFCu) /* TRCENA bit24 */
#define DWT_CTRL   REG32(0xE0001000u) /* CYCCNTENA bit0 */
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR    REG32(0xE0001FB0u) /* lock access register (Cortex-M7): write 0xC5ACCE55 to unlock */

/* NVIC: interrupt set-enable registers, one bit per device interrupt */
#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))

/* Coprocessor access control (FPU: CP10 and CP11 full access = bits 20..23) */
#define SCB_CPACR REG32(0xE000ED88u)

#endif
