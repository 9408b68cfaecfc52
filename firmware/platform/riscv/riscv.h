/* RISC-V machine-mode registers used by the platform code (RV32, privileged spec 1.10+), and the PLIC. */
#ifndef TINYRNN_RISCV_H
#define TINYRNN_RISCV_H

#include <stdint.h>

#include "board_config.h"

#define REG8(addr)  (*(volatile uint8_t *)(uintptr_t)(addr))
#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define CSR_READ(name)                                                                                                 \
    ({                                                                                                                 \
        uint32_t v_;                                                                                                   \
        __asm__ volatile("csrr %0, " #name : "=r"(v_));                                                                \
        v_;                                                                                                            \
    })
#define CSR_SET(name, bits)    __asm__ volatile("csrs " #name ", %0" : : "r"((uint32_t)(bits)) : "memory")
#define CSR_CLEAR(name, bits)  __asm__ volatile("csrc " #name ", %0" : : "r"((uint32_t)(bits)) : "memory")
#define CSR_WRITE(name, value) __asm__ volatile("csrw " #name ", %0" : : "r"((uint32_t)(value)))

#define MSTATUS_MIE             (1u << 3)  /* machine interrupts enabled */
#define MIE_MEIE                (1u << 11) /* machine external interrupt (the PLIC) enabled */
#define MCAUSE_INTERRUPT        (1u << 31)
#define MCAUSE_MACHINE_EXTERNAL 11u

/* Platform-Level Interrupt Controller (RISC-V PLIC spec 1.0): one priority word per source, then per context
 * an enable bit array and a threshold/claim-complete pair. The board names its base and the context of hart 0
 * in machine mode (board.toml [interrupts]). */
#define PLIC_PRIORITY(src) REG32(BOARD_PLIC_BASE + 4u * (src))
#define PLIC_ENABLE(src)   REG32(BOARD_PLIC_BASE + 0x2000u + 0x80u * BOARD_PLIC_CONTEXT + 4u * ((src) / 32u))
#define PLIC_THRESHOLD     REG32(BOARD_PLIC_BASE + 0x200000u + 0x1000u * BOARD_PLIC_CONTEXT)
#define PLIC_CLAIM         REG32(BOARD_PLIC_BASE + 0x200004u + 0x1000u * BOARD_PLIC_CONTEXT)

#endif
