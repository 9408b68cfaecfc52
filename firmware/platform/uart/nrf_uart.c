/* nRF51/nRF52 UART (the register-level peripheral, no DMA): 8N1, transmit polled, receive by interrupt into
 * a ring (uart_rx.h). */
#include "platform.h"
#include "cortexm/cortexm.h"
#include "nrf_baud.h"

#define UART_TASKS_STARTRX REG32(BOARD_UART_BASE + 0x000u)
#define UART_TASKS_STARTTX REG32(BOARD_UART_BASE + 0x008u)
#define UART_EVENTS_RXDRDY REG32(BOARD_UART_BASE + 0x108u)
#define UART_EVENTS_TXDRDY REG32(BOARD_UART_BASE + 0x11Cu)
#define UART_INTENSET      REG32(BOARD_UART_BASE + 0x304u) /* bit2 RXDRDY */
#define UART_ENABLE        REG32(BOARD_UART_BASE + 0x500u)
#define UART_PSELTXD       REG32(BOARD_UART_BASE + 0x50Cu)
#define UART_PSELRXD       REG32(BOARD_UART_BASE + 0x514u)
#define UART_RXD           REG32(BOARD_UART_BASE + 0x518u)
#define UART_TXD           REG32(BOARD_UART_BASE + 0x51Cu)
#define UART_BAUDRATE      REG32(BOARD_UART_BASE + 0x524u)

#include "uart_rx.h"

static int uart_hw_take(uint8_t *byte)
{
    if (!UART_EVENTS_RXDRDY) {
        return 0;
    }
    UART_EVENTS_RXDRDY = 0u; /* clear before reading RXD, so the next byte raises it again */
    *byte = (uint8_t)UART_RXD;
    return 1;
}

static void uart_hw_rx_irq_enable(void)
{
    UART_INTENSET = 1u << 2;
}

void uart_init(void)
{
    /* TX idles high: drive it before the UART takes the pin; RX is an input with its buffer connected. */
    NRF_GPIO_OUTSET(BOARD_UART_TX_PIN) = 1u << (BOARD_UART_TX_PIN % 32u);
    NRF_GPIO_DIRSET(BOARD_UART_TX_PIN) = 1u << (BOARD_UART_TX_PIN % 32u);
    NRF_GPIO_PIN_CNF(BOARD_UART_RX_PIN) = 0u;
    UART_PSELTXD = BOARD_UART_TX_PIN;
    UART_PSELRXD = BOARD_UART_RX_PIN;
    UART_BAUDRATE = NRF_UART_BAUD;
    UART_ENABLE = 4u; /* 4 = UART */
    UART_EVENTS_RXDRDY = 0u;
    UART_EVENTS_TXDRDY = 0u;
    UART_TASKS_STARTTX = 1u;
    UART_TASKS_STARTRX = 1u;
    uart_rx_start();
}

void uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        UART_TXD = data[i];
        while (!UART_EVENTS_TXDRDY) {
        }
        UART_EVENTS_TXDRDY = 0u;
    }
}
