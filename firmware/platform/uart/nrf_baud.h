/* nRF UART/UARTE BAUDRATE register values for BOARD_UART_BAUD (nRF51 and nRF52 product specifications). */
#ifndef TINYRNN_NRF_BAUD_H
#define TINYRNN_NRF_BAUD_H

#include "board_config.h"

#if BOARD_UART_BAUD == 9600u
#define NRF_UART_BAUD  0x00275000u
#define NRF_UARTE_BAUD 0x00275000u
#elif BOARD_UART_BAUD == 19200u
#define NRF_UART_BAUD  0x004EA000u
#define NRF_UARTE_BAUD 0x004EA000u
#elif BOARD_UART_BAUD == 38400u
#define NRF_UART_BAUD  0x009D5000u
#define NRF_UARTE_BAUD 0x009D0000u
#elif BOARD_UART_BAUD == 57600u
#define NRF_UART_BAUD  0x00EBF000u
#define NRF_UARTE_BAUD 0x00EB0000u
#elif BOARD_UART_BAUD == 115200u
#define NRF_UART_BAUD  0x01D7E000u
#define NRF_UARTE_BAUD 0x01D60000u
#elif BOARD_UART_BAUD == 230400u
#define NRF_UART_BAUD  0x03AFB000u
#define NRF_UARTE_BAUD 0x03B00000u
#elif BOARD_UART_BAUD == 460800u
#define NRF_UART_BAUD  0x075F7000u
#define NRF_UARTE_BAUD 0x07400000u
#elif BOARD_UART_BAUD == 921600u
#define NRF_UART_BAUD  0x0EBEDFA4u
#define NRF_UARTE_BAUD 0x0F000000u
#elif BOARD_UART_BAUD == 1000000u
#define NRF_UART_BAUD  0x10000000u
#define NRF_UARTE_BAUD 0x10000000u
#else
#error "baud rate not supported by the nRF UART"
#endif

/* GPIO port for a pin number (P1.n = 32 + n on the nRF52840). */
#define NRF_GPIO_BASE(pin)    ((pin) < 32u ? 0x50000000u : 0x50000300u)
#define NRF_GPIO_OUTSET(pin)  REG32(NRF_GPIO_BASE(pin) + 0x508u)
#define NRF_GPIO_DIRSET(pin)  REG32(NRF_GPIO_BASE(pin) + 0x518u)
#define NRF_GPIO_PIN_CNF(pin) REG32(NRF_GPIO_BASE(pin) + 0x700u + 4u * ((pin) % 32u))

#endif
