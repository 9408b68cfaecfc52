/* The protocol's commands (HELLO, RESET, STEP, SEQUENCE) served with the linked model. */
#ifndef TINYRNN_COMMANDS_H
#define TINYRNN_COMMANDS_H

#include "protocol.h"

void commands_init(void);
void commands_handle(const proto_request_t *req);

#endif
