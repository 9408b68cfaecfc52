/* ARM CMSDK APB UART (MPS2 boards): polled, 8N1. */
#include "platform.h"
#include "cortexm/cortexm.h"

#define UART_DATA    REG32(BOARD_UART_BASE + 0x00u)
#define UART_STATE   REG32(BOARD_UART_BASE + 0x04u)   /* bit0 TX buffer full, bit1 RX buffer full */
#define UART_CTRL    REG32(BOARD_UART_BASE + 0x08u)   /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV REG32(BOARD_UART_BASE + 0x10u)   /* clock / baud, must be >= 16 */

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u

void uart_init(void)
{
    uint32_t div = BOARD_UART_CLOCK_HZ / BOARD_UART_BAUD;
    UART_BAUDDIV = div < 16u ? 16u : div;
    UART_CTRL = 0x3u;
}

void uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}

uint8_t uart_read_byte(void)
{
    while (!(UART_STATE & STATE_RX_FULL)) {
    }
    return (uint8_t)UART_DATA;
}
