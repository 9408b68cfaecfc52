/* tinyrnn firmware: bring the board up, then answer protocol requests forever.
 * The board only ever speaks when spoken to, so nothing is lost if the host connects late. */
#include "commands.h"
#include "platform.h"
#include "protocol.h"

#if TINYRNN_TEST_STACK_OVERFLOW
/* Test builds only (tests/test_stack_guard.py): RESET and SEQUENCE recurse until the stack runs off its edge. */
static volatile uint32_t depth_limit = 0xFFFFFFFFu; /* volatile: the compiler cannot see the recursion end */
static uint32_t recurse_forever(uint32_t depth)
{
    volatile uint8_t frame[64]; /* a frame the compiler cannot drop */
    frame[depth % sizeof frame] = (uint8_t)depth;
    if (depth >= depth_limit) {
        return frame[0];
    }
    return recurse_forever(depth + 1u) + frame[0];
}
#endif

/* The family's fault handler (platform.h) lands here on a fresh stack: one error frame the host reports
 * (FAULT, detail: the cause; request id 0), then nothing more until a reset. */
void app_fault(uint32_t cause)
{
    static const uint8_t delimiter = 0x00; /* ends whatever partial frame was on the line */
    uart_write(&delimiter, 1);
    proto_send_error(0, 0, PROTO_ERR_FAULT, (uint16_t)cause, 0, 0);
    for (;;) { /* stopped: a debugger sees the fault registers as they were */
    }
}

int main(void)
{
    clock_init();
    counter_init();
    uart_init();
    commands_init();

    proto_request_t req;
    for (;;) {
        if (proto_feed(uart_read_byte(), &req)) {
            uart_rx_set_busy(1); /* bytes arriving from here on wait in the receive ring */
#if TINYRNN_TEST_STACK_OVERFLOW
            if (req.type == PROTO_CMD_RESET || req.type == PROTO_CMD_SEQUENCE) {
                (void)recurse_forever(0u);
            }
#endif
#if TINYRNN_TEST_RX_HOLD
            if (req.type == PROTO_CMD_SEQUENCE) {
                uart_rx_test_hold(); /* test builds: a computation long enough for the next request */
            }
#endif
            commands_handle(&req);
            uart_rx_set_busy(0);
        }
    }
}
