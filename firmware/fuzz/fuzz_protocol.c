/* libFuzzer target: the firmware's frame decoder (protocol.c) and dispatcher (commands.c), with the kernel when
 * built with a model (TINYRNN_HAVE_MODEL=1), on the host under ASan and UBSan. See firmware/fuzz/README.md.
 *
 * The input is a list of records, each  op | u16 length (little-endian) | length bytes  (the last record takes
 * whatever is left):
 *   op & 3 == 0   the bytes go to proto_feed() as they are (damaged frames, COBS errors, stray delimiters)
 *   op & 3 != 0   the bytes become one well-formed frame: type = bytes[0], session = bytes[1..2], payload = the
 *                 rest, with the right version, length and CRC, COBS-encoded and delimited, so that mutations
 *                 reach the dispatcher and the kernel instead of dying at the CRC check
 *   op & 4        (framed) use the board's current session instead of bytes[1..2]
 *   op & 8        (framed) version byte from bytes[1] instead of PROTO_VERSION
 * Every byte string the board writes must be one well-formed frame (decoded here with the board's own COBS and
 * CRC routines) no longer than PROTO_MAX_ENCODED_FRAME + 1 bytes; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "platform.h"
#include "protocol.h"

/* --- the porting contract, on the host -------------------------------------------------------------------- */
static uint32_t fake_counter;

void clock_init(void) {}
void uart_init(void) {}
void counter_init(void) {}
uint32_t counter_now(void) { return fake_counter += 7u; }
uint32_t counter_elapsed(uint32_t start, uint32_t end) { return end - start; }
uint8_t uart_read_byte(void) { abort(); }     /* the target feeds proto_feed itself */
void uart_rx_set_busy(int busy) { (void)busy; }
void uart_rx_stats(uart_rx_stats_t *out) { memset(out, 0, sizeof *out); }
uint32_t platform_stack_size(void) { return 0; }
uint32_t platform_stack_used(void) { return 0; }

void uart_write(const uint8_t *data, size_t len)
{
    static uint8_t copy[PROTO_MAX_ENCODED_FRAME + 1];
    if (len < 2 || len > sizeof copy || data[len - 1] != 0x00) {
        abort();                              /* a reply is one COBS frame and its delimiter */
    }
    memcpy(copy, data, len - 1);
    for (size_t i = 0; i + 1 < len; i++) {
        if (copy[i] == 0x00) {
            abort();                          /* a 0x00 inside a frame would split it on the line */
        }
    }
    long n = cobs_decode_in_place(copy, len - 1);
    if (n < PROTO_HEADER_SIZE + PROTO_CRC_SIZE || n > PROTO_MAX_FRAME) {
        abort();
    }
    size_t body = (size_t)n - PROTO_CRC_SIZE;
    if (proto_crc32(copy, body) != get_u32(copy + body) || copy[PROTO_HDR_VERSION_OFF] != PROTO_VERSION ||
        get_u16(copy + PROTO_HDR_LENGTH_OFF) != body - PROTO_HEADER_SIZE) {
        abort();
    }
}

/* --- the target ---------------------------------------------------------------------------------------- */
static void feed(const uint8_t *bytes, size_t len)
{
    proto_request_t req;
    for (size_t i = 0; i < len; i++) {
        if (proto_feed(bytes[i], &req)) {
            commands_handle(&req);
        }
    }
}

static void feed_frame(uint8_t op, const uint8_t *data, size_t len)
{
    static uint8_t frame[PROTO_MAX_FRAME];
    static uint8_t wire[PROTO_MAX_ENCODED_FRAME + 2];
    if (len < 3) {
        return;
    }
    size_t payload_len = len - 3;
    if (payload_len > PROTO_MAX_PAYLOAD) {
        payload_len = PROTO_MAX_PAYLOAD;
    }
    frame[PROTO_HDR_VERSION_OFF] = (op & 8) ? data[1] : PROTO_VERSION;
    frame[PROTO_HDR_TYPE_OFF] = data[0];
    put_u16(frame + PROTO_HDR_REQUEST_ID_OFF, (uint16_t)(0x100u + len));
    put_u16(frame + PROTO_HDR_SESSION_OFF, (op & 4) ? proto_session() : get_u16(data + 1));
    put_u16(frame + PROTO_HDR_LENGTH_OFF, (uint16_t)payload_len);
    memcpy(frame + PROTO_HEADER_SIZE, data + 3, payload_len);
    size_t n = PROTO_HEADER_SIZE + payload_len;
    put_u32(frame + n, proto_crc32(frame, n));
    size_t wire_len = cobs_encode(frame, n + PROTO_CRC_SIZE, wire);
    wire[wire_len++] = 0x00;
    feed(wire, wire_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_reset();
    commands_init();
    while (size > 0) {
        uint8_t op = data[0];
        size_t len = size >= 3 ? (size_t)get_u16(data + 1) : 0;
        size_t head = size >= 3 ? 3 : size;
        data += head;
        size -= head;
        if (len > size || len == 0) {
            len = size;
        }
        if ((op & 3) == 0) {
            feed(data, len);
        } else {
            feed_frame(op, data, len);
        }
        data += len;
        size -= len;
    }
    return 0;
}
