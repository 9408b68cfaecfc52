/* nRF52 UARTE (UART with EasyDMA): 8N1, transmit polled, receive by interrupt (ENDRX) into a ring (uart_rx.h).
 *
 * EasyDMA reads and writes RAM only, so transmitted bytes go through a RAM staging buffer. Reception uses
 * one-byte DMA transfers into two alternating cells, with the ENDRX->STARTRX shortcut restarting reception
 * at once: a byte that arrives while the previous one is being read lands in the other cell; the ENDRX
 * interrupt moves each completed byte into the ring. (Not run on an emulator: QEMU 7.2 has no nRF52.)
 */
#include "platform.h"
#include "cortexm/cortexm.h"
#include "nrf_baud.h"

#define UARTE_TASKS_STARTRX    REG32(BOARD_UART_BASE + 0x000u)
#define UARTE_TASKS_STARTTX    REG32(BOARD_UART_BASE + 0x008u)
#define UARTE_EVENTS_ENDRX     REG32(BOARD_UART_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX     REG32(BOARD_UART_BASE + 0x120u)
#define UARTE_EVENTS_RXSTARTED REG32(BOARD_UART_BASE + 0x14Cu)
#define UARTE_INTENSET         REG32(BOARD_UART_BASE + 0x304u) /* bit4 ENDRX */
#define UARTE_SHORTS           REG32(BOARD_UART_BASE + 0x200u)
#define UARTE_ENABLE           REG32(BOARD_UART_BASE + 0x500u)
#define UARTE_PSEL_RTS         REG32(BOARD_UART_BASE + 0x508u)
#define UARTE_PSEL_TXD         REG32(BOARD_UART_BASE + 0x50Cu)
#define UARTE_PSEL_CTS         REG32(BOARD_UART_BASE + 0x510u)
#define UARTE_PSEL_RXD         REG32(BOARD_UART_BASE + 0x514u)
#define UARTE_BAUDRATE         REG32(BOARD_UART_BASE + 0x524u)
#define UARTE_RXD_PTR          REG32(BOARD_UART_BASE + 0x534u)
#define UARTE_RXD_MAXCNT       REG32(BOARD_UART_BASE + 0x538u)
#define UARTE_TXD_PTR          REG32(BOARD_UART_BASE + 0x544u)
#define UARTE_TXD_MAXCNT       REG32(BOARD_UART_BASE + 0x548u)
#define UARTE_CONFIG           REG32(BOARD_UART_BASE + 0x56Cu)

#define SHORTS_ENDRX_STARTRX (1u << 5)
#define PSEL_DISCONNECTED    0x80000000u
#define NRF_PIN_CNF_PULLUP   (3u << 2) /* PULL = Pullup; DIR input, INPUT buffer connected */

static uint8_t tx_stage[64];
static volatile uint8_t rx_cell[2];
static uint32_t rx_next; /* the cell the next completed byte is in */

static void wait_rx_started_then_queue(uint32_t cell)
{
    while (!UARTE_EVENTS_RXSTARTED) {
    }
    UARTE_EVENTS_RXSTARTED = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_cell[cell]; /* RXD.PTR is double-buffered */
}

#include "uart_rx.h"

static int uart_hw_take(uint8_t *byte)
{
    if (!UARTE_EVENTS_ENDRX) {
        return 0;
    }
    UARTE_EVENTS_ENDRX = 0u;
    *byte = rx_cell[rx_next];
    /* The shortcut has restarted reception into the other cell; queue this one for the transfer after. */
    wait_rx_started_then_queue(rx_next);
    rx_next ^= 1u;
    return 1;
}

static void uart_hw_rx_irq_enable(void)
{
    UARTE_INTENSET = 1u << 4;
}

void uart_init(void)
{
    NRF_GPIO_OUTSET(BOARD_UART_TX_PIN) = 1u << (BOARD_UART_TX_PIN % 32u);
    NRF_GPIO_DIRSET(BOARD_UART_TX_PIN) = 1u << (BOARD_UART_TX_PIN % 32u);
    /* input with pull-up: the DK's interface chip floats its UART lines while no terminal has the port open */
    NRF_GPIO_PIN_CNF(BOARD_UART_RX_PIN) = NRF_PIN_CNF_PULLUP;
    UARTE_PSEL_TXD = BOARD_UART_TX_PIN; /* pin number with port in bit 5 = P1 */
    UARTE_PSEL_RXD = BOARD_UART_RX_PIN;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = NRF_UARTE_BAUD;
    UARTE_CONFIG = 0u; /* 8N1, no flow control */
    UARTE_ENABLE = 8u; /* 8 = UARTE */

    rx_next = 0u;
    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_cell[0];
    UARTE_RXD_MAXCNT = 1u;
    UARTE_SHORTS = SHORTS_ENDRX_STARTRX;
    UARTE_EVENTS_RXSTARTED = 0u;
    UARTE_EVENTS_ENDRX = 0u;
    UARTE_TASKS_STARTRX = 1u;
    wait_rx_started_then_queue(1u);
    uart_rx_start();
}

void uart_write(const uint8_t *data, size_t len)
{
    while (len) {
        size_t n = len < sizeof tx_stage ? len : sizeof tx_stage;
        for (size_t i = 0; i < n; i++) {
            tx_stage[i] = data[i];
        }
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)tx_stage;
        UARTE_TXD_MAXCNT = n;
        UARTE_EVENTS_ENDTX = 0u;
        UARTE_TASKS_STARTTX = 1u;
        while (!UARTE_EVENTS_ENDTX) {
        }
        data += n;
        len -= n;
    }
}
