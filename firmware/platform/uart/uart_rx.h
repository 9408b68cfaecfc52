/* Interrupt-driven receive, shared by the UART drivers (included once, by the driver's .c).
 *
 * The driver's receive interrupt moves every byte its hardware holds into a ring buffer at once, so bytes that
 * arrive while the app computes a long SEQUENCE or transmits a reply wait in RAM instead of overrunning the
 * one-byte receive register (on silicon, a second byte arriving before the first is read is lost). The
 * protocol never needs more than one request ahead: the ring holds a whole encoded frame.
 *
 * A driver defines, before including this file:
 *   static int uart_hw_take(uint8_t *byte);     one byte from the hardware if it holds one (clears its event)
 *   static void uart_hw_rx_irq_enable(void);    enable the peripheral's receive interrupt
 * and calls uart_rx_start() at the end of uart_init(). The family's startup code delivers the interrupt
 * BOARD_UART_IRQ to UART_IRQHandler (Cortex-M: the vector table; RISC-V: the trap handler, through the PLIC)
 * and enables it in platform_irq_enable().
 *
 * TINYRNN_UART_RX_POLLED=1 builds the old behaviour (no interrupt: the hardware is read only while the app
 * waits for a byte), kept only so that tests/test_link_faults.py can show its test tells the two apart.
 */
#ifndef TINYRNN_UART_RX_H
#define TINYRNN_UART_RX_H

#include "platform.h"

#ifndef UART_RX_RING_SIZE
#define UART_RX_RING_SIZE 2048u         /* a power of two, >= PROTO_MAX_ENCODED_FRAME + 1 */
#endif
#if (UART_RX_RING_SIZE & (UART_RX_RING_SIZE - 1u)) || UART_RX_RING_SIZE <= PROTO_MAX_ENCODED_FRAME
#error "UART_RX_RING_SIZE must be a power of two above PROTO_MAX_ENCODED_FRAME"
#endif

static volatile uint8_t rx_ring[UART_RX_RING_SIZE];
static volatile uint32_t rx_head;       /* written only by the interrupt (or the polled reader) */
static volatile uint32_t rx_tail;       /* written only by uart_read_byte */
volatile uint32_t uart_rx_dropped;      /* bytes lost because the ring was full (for a debugger) */

static int uart_hw_take(uint8_t *byte);
static void uart_hw_rx_irq_enable(void);

static void rx_ring_fill(void)
{
    uint8_t byte;
    while (uart_hw_take(&byte)) {
        uint32_t head = rx_head;
        if (head - rx_tail == UART_RX_RING_SIZE) {
            uart_rx_dropped++;
            continue;
        }
        rx_ring[head & (UART_RX_RING_SIZE - 1u)] = byte;
        rx_head = head + 1u;
    }
}

void UART_IRQHandler(void)
{
    rx_ring_fill();
}

static void uart_rx_start(void)
{
    rx_head = rx_tail = 0u;
#if !TINYRNN_UART_RX_POLLED
    uart_hw_rx_irq_enable();
    platform_irq_enable(BOARD_UART_IRQ);
#else
    (void)uart_hw_rx_irq_enable;
#endif
}

uint8_t uart_read_byte(void)
{
    while (rx_head == rx_tail) {
#if TINYRNN_UART_RX_POLLED
        rx_ring_fill();
#endif
    }
    uint32_t tail = rx_tail;
    uint8_t byte = rx_ring[tail & (UART_RX_RING_SIZE - 1u)];
    rx_tail = tail + 1u;
    return byte;
}

#endif
