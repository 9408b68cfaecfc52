/* The board side of the serial protocol (docs/protocol.md): COBS framing with a 0x00 delimiter, a CRC-32
 * over every frame, request ids echoed in replies. Constants come from the generated protocol_ids.h. */
#ifndef TINYRNN_PROTOCOL_H
#define TINYRNN_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol_ids.h"

/* A well-formed request, pointing into the receive buffer (valid until the next proto_feed call). */
typedef struct {
    uint8_t type;
    uint16_t id;
    const uint8_t *payload;
    uint16_t len;
} proto_request_t;

/* Feed one received byte. Returns 1 when it completed a well-formed request (now in *req), 0 otherwise.
 * Malformed frames, and requests outside the board's session (any but HELLO), are answered with an error
 * reply here; a HELLO with a session id opens that session. A repeated request (same id and CRC as the last
 * one answered, i.e. a host retry) is answered with the stored reply without being executed again. */
int proto_feed(uint8_t byte, proto_request_t *req);

/* Back to the state after boot: no session, no partial frame, no stored reply, counts zero (a boot needs no
 * call: the statics start so; the fuzz target calls it before each input). */
void proto_reset(void);

/* What the framing layer did since boot (the STATS reply). */
typedef struct {
    uint32_t requests;        /* well-formed requests handed to the app */
    uint32_t repeats;         /* retries answered from the stored reply */
    uint32_t frame_errors;    /* frames refused before they became a request */
    uint32_t session_refused; /* requests refused with BAD_SESSION */
} proto_counts_t;
const proto_counts_t *proto_counts(void);

/* The session the board belongs to (PROTO_NO_SESSION until a HELLO opens one). */
uint16_t proto_session(void);

/* Where a handler writes its reply payload (room for PROTO_MAX_PAYLOAD bytes). */
uint8_t *proto_reply_payload(void);
/* Send the reply payload already written (len bytes) for req. */
void proto_send_reply(const proto_request_t *req, uint16_t len);
/* Send an error reply; extra (may be NULL) is appended after the code/type/detail record. */
void proto_send_error(uint8_t req_type, uint16_t id, uint8_t code, uint16_t detail, const uint8_t *extra,
                      uint16_t extra_len);

/* Building blocks, exposed for the tests and for handlers. */
uint32_t proto_crc32(const uint8_t *data, size_t len);
size_t cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
long cobs_decode_in_place(uint8_t *buf, size_t len); /* decoded length, or -1 if malformed */

/* Little-endian access to unaligned bytes. */
static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
