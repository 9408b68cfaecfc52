/* STM32F4 USART: 8N1, oversampling by 16; transmit polled, receive by interrupt into a ring (uart_rx.h).
 *
 * On silicon the USART and its GPIO port need their RCC clocks, and the pins their alternate function; the
 * board data says which (BOARD_UART_TX_PIN_PORT etc.). An emulated board without pin data skips that part
 * (QEMU models no RCC or GPIO alternate functions, but needs UE and RE set to deliver received bytes).
 */
#include "platform.h"
#include "cortexm/cortexm.h"

#define USART_SR  REG32(BOARD_UART_BASE + 0x00u)
#define USART_DR  REG32(BOARD_UART_BASE + 0x04u)
#define USART_BRR REG32(BOARD_UART_BASE + 0x08u)
#define USART_CR1 REG32(BOARD_UART_BASE + 0x0Cu)

#define SR_ORE     (1u << 3)
#define SR_RXNE    (1u << 5)
#define SR_TXE     (1u << 7)
#define CR1_RE     (1u << 2)
#define CR1_RXNEIE (1u << 5)
#define CR1_TE     (1u << 3)
#define CR1_UE     (1u << 13)

#include "uart_rx.h"

static int uart_hw_take(uint8_t *byte)
{
    if (!(USART_SR & (SR_RXNE | SR_ORE))) {
        return 0;
    }
    /* Reading SR then DR clears RXNE and an overrun too; the protocol's CRC catches a lost byte. */
    *byte = (uint8_t)USART_DR;
    return 1;
}

static void uart_hw_rx_irq_enable(void)
{
    USART_CR1 |= CR1_RXNEIE; /* RXNE and ORE raise the interrupt */
}

#ifdef BOARD_UART_TX_PIN_PORT
#define RCC_BASE            0x40023800u
#define RCC_AHB1ENR         REG32(RCC_BASE + 0x30u)
#define GPIO_BASE(port)     (0x40020000u + 0x400u * (uint32_t)(port))
#define GPIO_MODER(port)    REG32(GPIO_BASE(port) + 0x00u)
#define GPIO_OSPEEDR(port)  REG32(GPIO_BASE(port) + 0x08u)
#define GPIO_PUPDR(port)    REG32(GPIO_BASE(port) + 0x0Cu)
#define GPIO_AFR(port, pin) REG32(GPIO_BASE(port) + 0x20u + 4u * ((uint32_t)(pin) / 8u))

static void pin_alternate_function(uint32_t port, uint32_t pin, uint32_t af, uint32_t pull_up)
{
    RCC_AHB1ENR |= 1u << port;
    (void)RCC_AHB1ENR; /* let the enable take effect before the access */
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (2u << (2u * pin)); /* AF mode */
    GPIO_OSPEEDR(port) |= 2u << (2u * pin);                                           /* fast */
    GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << (2u * pin))) | (pull_up << (2u * pin));
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << (4u * (pin % 8u)))) | (af << (4u * (pin % 8u)));
}
#endif

void uart_init(void)
{
#ifdef BOARD_UART_TX_PIN_PORT
    REG32(RCC_BASE + BOARD_UART_RCC_ENR_OFFSET) |= 1u << BOARD_UART_RCC_ENR_BIT;
    (void)REG32(RCC_BASE + BOARD_UART_RCC_ENR_OFFSET);
    pin_alternate_function(BOARD_UART_TX_PIN_PORT, BOARD_UART_TX_PIN_NUM, BOARD_UART_AF, 0u);
    pin_alternate_function(BOARD_UART_RX_PIN_PORT, BOARD_UART_RX_PIN_NUM, BOARD_UART_AF, 1u); /* idle high */
#endif
    /* Oversampling by 16: BRR holds clock/baud as 12.4 fixed point, i.e. round(clock / baud). */
    USART_BRR = (BOARD_UART_CLOCK_HZ + BOARD_UART_BAUD / 2u) / BOARD_UART_BAUD;
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE;
    uart_rx_start();
}

void uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (!(USART_SR & SR_TXE)) {
        }
        USART_DR = data[i];
    }
}
