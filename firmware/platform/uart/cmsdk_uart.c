/* ARM CMSDK APB UART (MPS2 boards): 8N1, transmit polled, receive by interrupt into a ring (uart_rx.h). */
#include "platform.h"
#include "cortexm/cortexm.h"

#define UART_DATA    REG32(BOARD_UART_BASE + 0x00u)
#define UART_STATE   REG32(BOARD_UART_BASE + 0x04u) /* bit0 TX buffer full, bit1 RX buffer full */
#define UART_CTRL    REG32(BOARD_UART_BASE + 0x08u) /* bit0 TX enable, bit1 RX enable, bit3 RX interrupt */
#define UART_INTCLR  REG32(BOARD_UART_BASE + 0x0Cu) /* write 1s: bit1 clears the RX interrupt */
#define UART_BAUDDIV REG32(BOARD_UART_BASE + 0x10u) /* clock / baud, must be >= 16 */

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define CTRL_TX_RX    0x3u
#define CTRL_RX_INT   0x8u
#define INT_RX        0x2u

#include "uart_rx.h"

static int uart_hw_take(uint8_t *byte)
{
    UART_INTCLR = INT_RX; /* before reading: a byte arriving after this raises it again */
    if (!(UART_STATE & STATE_RX_FULL)) {
        return 0;
    }
    *byte = (uint8_t)UART_DATA;
    return 1;
}

static void uart_hw_rx_irq_enable(void)
{
    UART_CTRL = CTRL_TX_RX | CTRL_RX_INT;
}

void uart_init(void)
{
    uint32_t div = BOARD_UART_CLOCK_HZ / BOARD_UART_BAUD;
    UART_BAUDDIV = div < 16u ? 16u : div;
    UART_CTRL = CTRL_TX_RX;
    uart_rx_start();
}

void uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}
