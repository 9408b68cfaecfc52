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
            commands_handle(&req);
        }
    }
}
