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
 *
 * Counts (uart_rx_stats, the STATS reply): bytes taken, bytes dropped because the ring was full, bytes taken
 * while the app executed a request ("busy": with polled receive each of these would have had to wait in the
 * one-byte register, and on silicon all but one of them would be lost), and the ring's high-water mark.
 */
#ifndef TINYRNN_UART_RX_H
#define TINYRNN_UART_RX_H

#include "platform.h"

#ifndef UART_RX_RING_SIZE
#define UART_RX_RING_SIZE 2048u /* a power of two, >= PROTO_MAX_ENCODED_FRAME + 1 */
#endif
#if (UART_RX_RING_SIZE & (UART_RX_RING_SIZE - 1u)) || UART_RX_RING_SIZE <= PROTO_MAX_ENCODED_FRAME
#error "UART_RX_RING_SIZE must be a power of two above PROTO_MAX_ENCODED_FRAME"
#endif

static volatile uint8_t rx_ring[UART_RX_RING_SIZE];
static volatile uint32_t rx_head; /* written only by the interrupt (or the polled reader) */
static volatile uint32_t rx_tail; /* written only by uart_read_byte */
static volatile uint32_t rx_bytes, rx_dropped, rx_busy_bytes, rx_peak; /* written only where rx_head is */
static volatile int rx_app_busy;                                       /* written only by the app (uart_rx_set_busy) */

static int uart_hw_take(uint8_t *byte);
static void uart_hw_rx_irq_enable(void);

static void rx_ring_fill(void)
{
    uint8_t byte;
    while (uart_hw_take(&byte)) {
        uint32_t head = rx_head;
        uint32_t fill = head - rx_tail;
        rx_bytes++;
        rx_busy_bytes += rx_app_busy != 0;
        if (fill == UART_RX_RING_SIZE) {
            rx_dropped++;
            continue;
        }
        rx_ring[head & (UART_RX_RING_SIZE - 1u)] = byte;
        rx_head = head + 1u;
        if (fill + 1u > rx_peak) {
            rx_peak = fill + 1u;
        }
    }
}

void UART_IRQHandler(void)
{
    rx_ring_fill();
}

static void uart_rx_start(void)
{
    rx_head = rx_tail = 0u;
#if TINYRNN_TEST_RX_START_GAP
    /* test builds: widen the window between the driver enabling its receiver and its receive interrupt, so
     * that a byte the host sent while the board booted lands in it every time (tests/test_link_faults.py) */
    for (volatile uint32_t k = 0; k < (uint32_t)TINYRNN_TEST_RX_START_GAP; k++) {
    }
#endif
#if !TINYRNN_UART_RX_POLLED
    uart_hw_rx_irq_enable();
    /* A byte that arrived before the peripheral's interrupt was enabled may sit in the receive register with
     * no interrupt raised for it (the CMSDK UART raises RX only for bytes received while RX_INTEN is set), and
     * while it sits there the next byte cannot arrive either: the board would wait forever. Take it now; the
     * core's interrupt is still off, so nothing else writes the ring. */
    rx_ring_fill();
    platform_irq_enable(BOARD_UART_IRQ);
#else
    (void)uart_hw_rx_irq_enable;
#endif
}

void uart_rx_set_busy(int busy)
{
    rx_app_busy = busy;
}

void uart_rx_stats(uart_rx_stats_t *out)
{
    out->bytes = rx_bytes;
    out->dropped = rx_dropped;
    out->busy = rx_busy_bytes;
    out->peak = (uint16_t)rx_peak;
    out->ring_size = (uint16_t)UART_RX_RING_SIZE;
}

#if TINYRNN_TEST_RX_HOLD
void uart_rx_test_hold(void)
{
    /* TINYRNN_TEST_RX_HOLD milliseconds of the board's counter (host time when QEMU runs without -icount). */
    const uint32_t limit = (uint32_t)TINYRNN_TEST_RX_HOLD * (BOARD_CPU_CLOCK_HZ / 1000u);
    uint32_t waited = 0, last = counter_now();
    while (waited < limit && !rx_dropped) {
        for (uint32_t i = rx_tail; i != rx_head; i++) {
            if (rx_ring[i & (UART_RX_RING_SIZE - 1u)] == 0x00) {
                return; /* a whole frame (up to its delimiter) is in RAM */
            }
        }
        for (volatile uint32_t k = 0; k < 4096u; k++) {
            /* RAM only: QEMU's main loop, which feeds the UART, waits for the lock that every read of a
             * device register (the counter) takes, so a loop of counter reads alone would starve it */
        }
        uint32_t now = counter_now();
        waited += counter_elapsed(last, now);
        last = now;
    }
}
#endif

uint8_t uart_read_byte(void)
{
    while (rx_head == rx_tail) {
#if TINYRNN_UART_RX_POLLED
        rx_ring_fill();
#else
        /* Sleep until the receive interrupt instead of spinning: the core idles (on silicon, less power; in an
         * emulator, no host CPU spent on an idle board). Masked from the check to the sleep (platform.h). */
        platform_irq_mask();
        if (rx_head == rx_tail) {
            platform_sleep_until_interrupt();
        }
        platform_irq_unmask();
#endif
    }
    uint32_t tail = rx_tail;
    uint8_t byte = rx_ring[tail & (UART_RX_RING_SIZE - 1u)];
    rx_tail = tail + 1u;
    return byte;
}

#endif
