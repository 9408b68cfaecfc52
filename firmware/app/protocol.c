/* Serial protocol framing (docs/protocol.md): receive, check and answer frames.
 *
 * Decoded frame: u8 version | u8 type | u16 request id | u16 session | u16 payload length | payload |
 * u32 CRC-32, COBS-encoded on the wire and terminated by 0x00. Bytes are collected until a 0x00; anything
 * that does not decode to a valid frame gets an error reply, and the next 0x00 starts afresh, so garbage
 * costs at most one frame.
 *
 * Sessions: after boot the board has none (PROTO_NO_SESSION). A HELLO carrying a session id opens it; every
 * other request must carry the board's session or is refused with BAD_SESSION (detail: the board's session),
 * so a host notices a reboot (detail 0) or another host (detail: its session) before anything runs on a
 * state that is not its own. Every reply carries the board's session.
 */
#include "protocol.h"

#include "platform.h"

/* Raw bytes of the frame being received, decoded in place once its delimiter arrives. */
static uint8_t rx_buf[PROTO_MAX_ENCODED_FRAME];
static size_t rx_len;
static int rx_overflow;

/* The reply being built (header + payload + CRC), its COBS encoding, and what identifies the request it
 * answers, so that a retried request gets the same reply again instead of being executed twice. */
static uint8_t tx_frame[PROTO_MAX_FRAME];
static uint8_t tx_wire[PROTO_MAX_ENCODED_FRAME + 1];
static size_t tx_wire_len;
static uint16_t session = PROTO_NO_SESSION;
static int last_valid;
static uint16_t last_id;
static uint32_t last_crc;
static proto_counts_t counts;

/* CRC-32/ISO-HDLC (zlib's crc32): reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF.
 * Four bits at a time with a 16-entry table: 64 bytes of flash, ~20 instructions per byte. */
static const uint32_t crc_nibble_table[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t proto_crc32(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble_table[crc & 0xFu];
        crc = (crc >> 4) ^ crc_nibble_table[crc & 0xFu];
    }
    return crc ^ 0xFFFFFFFFu;
}

/* COBS: each block starts with a code byte = 1 + the number of non-zero bytes that follow; a code below
 * 0xFF means a zero follows the block (except at the very end). The output contains no 0x00. */
size_t cobs_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t code_pos = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF && i + 1 < len) { /* a full block; start another only if data follows */
                out[code_pos] = code;
                code_pos = o++;
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    return o;
}

long cobs_decode_in_place(uint8_t *buf, size_t len)
{
    size_t i = 0, o = 0; /* o <= i always: decoding in place is safe */
    while (i < len) {
        uint8_t code = buf[i++];
        if (code == 0 || i + code - 1u > len) {
            return -1;
        }
        for (uint8_t k = 1; k < code; k++) {
            buf[o++] = buf[i++];
        }
        if (code != 0xFF && i < len) {
            buf[o++] = 0;
        }
    }
    return (long)o;
}

void proto_reset(void)
{
    rx_len = 0;
    rx_overflow = 0;
    tx_wire_len = 0;
    session = PROTO_NO_SESSION;
    last_valid = 0;
    last_id = 0;
    last_crc = 0;
    counts = (proto_counts_t){0, 0, 0, 0};
}

const proto_counts_t *proto_counts(void)
{
    return &counts;
}

uint16_t proto_session(void)
{
    return session;
}

uint8_t *proto_reply_payload(void)
{
    return tx_frame + PROTO_HEADER_SIZE;
}

/* Fill in header and CRC around a payload already in frame[PROTO_HEADER_SIZE...], COBS-encode it into wire
 * with its delimiter; returns the number of bytes to send. */
static size_t encode_frame(uint8_t *frame, uint8_t type, uint16_t id, uint16_t len, uint8_t *wire)
{
    frame[PROTO_HDR_VERSION_OFF] = PROTO_VERSION;
    frame[PROTO_HDR_TYPE_OFF] = type;
    put_u16(frame + PROTO_HDR_REQUEST_ID_OFF, id);
    put_u16(frame + PROTO_HDR_SESSION_OFF, session);
    put_u16(frame + PROTO_HDR_LENGTH_OFF, len);
    size_t n = PROTO_HEADER_SIZE + (size_t)len;
    put_u32(frame + n, proto_crc32(frame, n));
    size_t wire_len = cobs_encode(frame, n + PROTO_CRC_SIZE, wire);
    wire[wire_len++] = 0x00; /* delimiter */
    return wire_len;
}

static uint16_t write_error_payload(uint8_t *p, uint8_t code, uint8_t req_type, uint16_t detail, const uint8_t *extra,
                                    uint16_t extra_len)
{
    p[0] = code;
    p[1] = req_type;
    put_u16(p + 2, detail);
    for (uint16_t i = 0; i < extra_len; i++) {
        p[PROTO_ERROR_SIZE + i] = extra[i];
    }
    return (uint16_t)(PROTO_ERROR_SIZE + extra_len);
}

void proto_send_reply(const proto_request_t *req, uint16_t len)
{
    tx_wire_len = encode_frame(tx_frame, (uint8_t)(req->type | PROTO_REPLY_FLAG), req->id, len, tx_wire);
    uart_write(tx_wire, tx_wire_len);
}

void proto_send_error(uint8_t req_type, uint16_t id, uint8_t code, uint16_t detail, const uint8_t *extra,
                      uint16_t extra_len)
{
    uint16_t len = write_error_payload(proto_reply_payload(), code, req_type, detail, extra, extra_len);
    tx_wire_len = encode_frame(tx_frame, PROTO_ERROR, id, len, tx_wire);
    uart_write(tx_wire, tx_wire_len);
}

/* An error about a frame that never became a request: sent from its own small buffers, so the stored
 * reply to the last valid request (for retries) stays intact. */
static void framing_error(uint8_t req_type, uint16_t id, uint8_t code, uint16_t detail)
{
    if (code == PROTO_ERR_BAD_SESSION) {
        counts.session_refused++;
    } else {
        counts.frame_errors++;
    }
    uint8_t frame[PROTO_HEADER_SIZE + PROTO_ERROR_SIZE + PROTO_CRC_SIZE];
    uint8_t wire[sizeof frame + 2];
    uint16_t len = write_error_payload(frame + PROTO_HEADER_SIZE, code, req_type, detail, 0, 0);
    uart_write(wire, encode_frame(frame, PROTO_ERROR, id, len, wire));
}

int proto_feed(uint8_t byte, proto_request_t *req)
{
    if (byte != 0x00) {
        if (rx_len < sizeof rx_buf) {
            rx_buf[rx_len++] = byte;
        } else {
            rx_overflow = 1; /* keep discarding until the delimiter */
        }
        return 0;
    }

    size_t raw_len = rx_len;
    rx_len = 0;
    if (rx_overflow) {
        rx_overflow = 0;
        framing_error(0, 0, PROTO_ERR_FRAME_TOO_LONG, PROTO_MAX_ENCODED_FRAME);
        return 0;
    }
    if (raw_len == 0) {
        return 0; /* an empty frame: hosts send a lone 0x00 to resynchronise */
    }
    long n = cobs_decode_in_place(rx_buf, raw_len);
    if (n < PROTO_HEADER_SIZE + PROTO_CRC_SIZE) {
        framing_error(0, 0, PROTO_ERR_BAD_FRAME, 0);
        return 0;
    }

    size_t body = (size_t)n - PROTO_CRC_SIZE;
    uint8_t type = rx_buf[PROTO_HDR_TYPE_OFF];
    uint16_t id = get_u16(rx_buf + PROTO_HDR_REQUEST_ID_OFF); /* echoed even in errors, best effort */
    uint16_t req_session = get_u16(rx_buf + PROTO_HDR_SESSION_OFF);
    uint16_t len = get_u16(rx_buf + PROTO_HDR_LENGTH_OFF);
    uint32_t crc = get_u32(rx_buf + body);
    if (proto_crc32(rx_buf, body) != crc) {
        framing_error(type, id, PROTO_ERR_BAD_CRC, 0);
        return 0;
    }
    if (rx_buf[PROTO_HDR_VERSION_OFF] != PROTO_VERSION) {
        framing_error(type, id, PROTO_ERR_BAD_VERSION, PROTO_VERSION);
        return 0;
    }
    if (len > PROTO_MAX_PAYLOAD || len != body - PROTO_HEADER_SIZE) {
        framing_error(type, id, PROTO_ERR_BAD_LENGTH, (uint16_t)(body - PROTO_HEADER_SIZE));
        return 0;
    }
    if (last_valid && id == last_id && crc == last_crc) {
        uart_write(tx_wire, tx_wire_len); /* a retry: the host missed our reply */
        counts.repeats++;
        return 0;
    }
    if (type == PROTO_CMD_HELLO) {
        if (req_session != PROTO_NO_SESSION) {
            session = req_session; /* a new session: the board is this host's now */
        }
    } else if (session == PROTO_NO_SESSION || req_session != session) {
        framing_error(type, id, PROTO_ERR_BAD_SESSION, session);
        return 0;
    }
    last_valid = 1;
    last_id = id;
    last_crc = crc;

    req->type = type;
    req->id = id;
    req->payload = rx_buf + PROTO_HEADER_SIZE;
    req->len = len;
    counts.requests++;
    return 1;
}
