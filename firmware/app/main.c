/* tinyrnn firmware: bring the board up, then answer protocol requests forever.
 * The board only ever speaks when spoken to, so nothing is lost if the host connects late. */
#include "commands.h"
#include "platform.h"
#include "protocol.h"

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
