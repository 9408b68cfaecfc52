/* The porting contract: what every board family provides to the app.
 *
 * One implementation of each part per family, chosen by the board's data (boards/<name>/board.toml ->
 * host/device/boards.py -> board.mk). Board facts (addresses, clock, pins) come from the generated board_config.h,
 * so adding a board of a known family needs no C.
 */
#ifndef TINYRNN_PLATFORM_H
#define TINYRNN_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "board_config.h"

/* <family>/startup.c: enable one device interrupt at its controller (Cortex-M: NVIC; RISC-V: PLIC), with
 * interrupts enabled at the core. UART_IRQHandler is what the family's startup calls for BOARD_UART_IRQ. */
void platform_irq_enable(uint32_t irq);
/* <family>/startup.c: wait for an interrupt without spinning. Mask interrupts, check there is nothing to do, then
 * sleep: the sleep returns once an interrupt is pending, masked or not, and the handler runs at the unmask. An
 * interrupt that came between the check and the sleep then ends the sleep at once instead of being slept through. */
void platform_irq_mask(void);
void platform_irq_unmask(void);
void platform_sleep_until_interrupt(void);

/* reset.c: the C start the family's startup jumps to (.data, .bss, stack painted, main); never returns. */
void platform_reset(void) __attribute__((noreturn));
/* reset.c: bytes of stack reserved, and the most ever in use since reset (interrupts included: one stack),
 * read from the paint platform_reset left below its own frame. */
uint32_t platform_stack_size(void);
uint32_t platform_stack_used(void);

/* The app provides it (app/main.c); the family's fault handler calls it, on a stack reset to its top (the faulting
 * one may be what overflowed), for every exception but reset and the UART's interrupt: it reports the fault on the
 * link and stops. `cause`: the Cortex-M exception number (IPSR: 3 HardFault, 4 MemManage, 5 BusFault, 6
 * UsageFault), or PLATFORM_FAULT_RISCV + mcause. */
#define PLATFORM_FAULT_RISCV 0x100u
void app_fault(uint32_t cause) __attribute__((noreturn));

/* clock/<family>.c: bring the CPU to BOARD_CPU_CLOCK_HZ (PLL, flash wait states, oscillators). */
void clock_init(void);

/* uart/<family>.c: pins, baud rate, enable; then blocking byte I/O (transmit polled, receive by interrupt into
 * a ring: uart/uart_rx.h). */
void uart_init(void);
void uart_write(const uint8_t *data, size_t len);
uint8_t uart_read_byte(void);

/* Receive counts since boot (uart/uart_rx.h), reported by STATS. */
typedef struct {
    uint32_t bytes;     /* taken from the hardware */
    uint32_t dropped;   /* lost: the ring was full */
    uint32_t busy;      /* taken while the app executed a request (see uart_rx_set_busy) */
    uint16_t peak;      /* most bytes waiting in the ring at once */
    uint16_t ring_size; /* the ring's capacity */
} uart_rx_stats_t;
void uart_rx_stats(uart_rx_stats_t *out);
/* The app executes a request (1) or is back to waiting for bytes (0). */
void uart_rx_set_busy(int busy);
#if TINYRNN_TEST_RX_HOLD
/* Test builds only (tests/test_link_faults.py): stall, as a long computation would, until a whole frame waits in
 * the ring, a byte was dropped, or TINYRNN_TEST_RX_HOLD ms (of the board's counter) have passed. */
void uart_rx_test_hold(void);
#endif

/* counter/<kind>.c: a free-running counter of CPU clock ticks for latency measurement.
 * counter_elapsed() returns the ticks between two counter_now() readings; it is exact for intervals
 * shorter than the counter's range (DWT: 2^32 ticks; SysTick: 2^24 ticks, so a caller times each kernel
 * step separately and adds the results). */
void counter_init(void);
uint32_t counter_now(void);
uint32_t counter_elapsed(uint32_t start, uint32_t end);

#endif
