/* 16550-compatible UART (QEMU virt's UART0, most RISC-V SoCs, PC-style UARTs): 8N1, FIFOs on, transmit
 * polled, receive by interrupt into a ring (uart_rx.h). Byte-wide registers at consecutive addresses. */
#include "platform.h"

#define UART_REG(off) (*(volatile uint8_t *)(uintptr_t)(BOARD_UART_BASE + (off)))
#define UART_RBR      UART_REG(0u) /* receive buffer (read, DLAB 0) */
#define UART_THR      UART_REG(0u) /* transmit holding (write, DLAB 0) */
#define UART_DLL      UART_REG(0u) /* divisor latch low (DLAB 1) */
#define UART_IER      UART_REG(1u) /* interrupt enable (DLAB 0): bit0 received data available */
#define UART_DLM      UART_REG(1u) /* divisor latch high (DLAB 1) */
#define UART_FCR      UART_REG(2u) /* FIFO control (write): bit0 enable, bit1/bit2 clear RX/TX; trigger 1 byte */
#define UART_LCR      UART_REG(3u) /* line control: bits0-1 word length, bit7 DLAB */
#define UART_MCR      UART_REG(4u) /* modem control: bit3 OUT2 (routes the interrupt on PC-style boards) */
#define UART_LSR      UART_REG(5u) /* line status: bit0 data ready, bit5 transmit holding empty */

#define LCR_8N1          0x03u
#define LCR_DLAB         0x80u
#define FCR_ENABLE_CLEAR 0x07u
#define IER_RX_DATA      0x01u
#define MCR_OUT2         0x08u
#define LSR_DATA_READY   0x01u
#define LSR_THR_EMPTY    0x20u

#include "uart_rx.h"

static int uart_hw_take(uint8_t *byte)
{
    if (!(UART_LSR & LSR_DATA_READY)) {
        return 0;
    }
    *byte = UART_RBR; /* reading the last byte clears the receive interrupt */
    return 1;
}

static void uart_hw_rx_irq_enable(void)
{
    UART_IER = IER_RX_DATA;
}

void uart_init(void)
{
    uint32_t div = (BOARD_UART_CLOCK_HZ + 8u * BOARD_UART_BAUD) / (16u * BOARD_UART_BAUD);
    UART_IER = 0u;
    UART_LCR = LCR_DLAB;
    UART_DLL = (uint8_t)(div & 0xFFu);
    UART_DLM = (uint8_t)(div >> 8);
    UART_LCR = LCR_8N1;
    UART_FCR = FCR_ENABLE_CLEAR;
    UART_MCR = MCR_OUT2;
    uart_rx_start();
}

void uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (!(UART_LSR & LSR_THR_EMPTY)) {
        }
        UART_THR = data[i];
    }
}
