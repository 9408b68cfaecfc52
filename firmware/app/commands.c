/* Command handlers: the model behind the protocol.
 *
 * Built with a model (TINYRNN_HAVE_MODEL=1, MODEL=<artifact dir>): runs the fixed-point kernel on the
 * linked model_data. Built without one (bring-up firmware for a new board): HELLO and RESET work, STEP and
 * SEQUENCE answer NO_MODEL. Every buffer is static; nothing is allocated.
 */
#include "commands.h"

#include "platform.h"

#if TINYRNN_HAVE_MODEL
#include "model_data.h"
#include "tinyrnn.h"
#define IN_DIM        TINYRNN_INPUT_DIM
#define OUT_DIM       TINYRNN_OUTPUT_DIM
#define STATE_WORDS   TINYRNN_STATE_WORDS
#define SCRATCH_WORDS TINYRNN_SCRATCH_WORDS
#else
#define IN_DIM        0
#define OUT_DIM       0
#define STATE_WORDS   0
#define SCRATCH_WORDS 0
#endif

/* SEQUENCE limits that keep request and reply within PROTO_MAX_PAYLOAD. */
#define SEQ_REQ_STEP_BYTES   (2 * IN_DIM)      /* int16 inputs per step */
#define SEQ_REPLY_STEP_BYTES (4 + 4 * OUT_DIM) /* u32 ticks + int32 outputs per step */
#define SEQ_MAX_BY_REQUEST   (IN_DIM ? (PROTO_MAX_PAYLOAD - PROTO_SEQUENCE_HEADER_SIZE) / SEQ_REQ_STEP_BYTES : 0)
#define SEQ_MAX_BY_REPLY     ((PROTO_MAX_PAYLOAD - PROTO_SEQUENCE_REPLY_HEADER_SIZE) / SEQ_REPLY_STEP_BYTES)
#define SEQ_MAX_FINAL        SEQ_MAX_BY_REQUEST
#define SEQ_MAX_PER_STEP     (SEQ_MAX_BY_REQUEST < SEQ_MAX_BY_REPLY ? SEQ_MAX_BY_REQUEST : SEQ_MAX_BY_REPLY)

#if TINYRNN_HAVE_MODEL && SEQ_MAX_PER_STEP < 1
#error "the model's inputs or outputs do not fit one protocol frame (PROTO_MAX_PAYLOAD): use fewer"
#endif

#if TINYRNN_HAVE_MODEL
static int32_t state[STATE_WORDS];
static int32_t scratch[SCRATCH_WORDS];
#endif
static uint32_t counter_overhead; /* ticks two back-to-back counter readings take, subtracted */

static void put_text(uint8_t *dst, size_t size, const char *text)
{
    size_t i = 0;
    for (; i < size && text[i]; i++) {
        dst[i] = (uint8_t)text[i];
    }
    for (; i < size; i++) {
        dst[i] = 0;
    }
}

void commands_init(void)
{
    uint32_t best = 0xFFFFFFFFu;
    for (int i = 0; i < 8; i++) {
        uint32_t t0 = counter_now();
        uint32_t t1 = counter_now();
        uint32_t t = counter_elapsed(t0, t1);
        best = t < best ? t : best;
    }
    counter_overhead = best;
#if TINYRNN_HAVE_MODEL
    tinyrnn_reset(&tinyrnn_model, state);
#endif
}

static void handle_hello(const proto_request_t *req)
{
#if TINYRNN_HAVE_MODEL
    static const char model_hash[] = TINYRNN_MODEL_HASH;
#else
    static const char model_hash[] = "";
#endif
    if (req->len != 0 && req->len != PROTO_HASH_LEN) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, PROTO_HASH_LEN, 0, 0);
        return;
    }
    uint8_t hash[PROTO_HASH_LEN];
    put_text(hash, sizeof hash, model_hash);
    if (req->len == PROTO_HASH_LEN) {
        for (int i = 0; i < PROTO_HASH_LEN; i++) {
            if (req->payload[i] != hash[i]) {
                proto_send_error(req->type, req->id, PROTO_ERR_HASH_MISMATCH, 0, hash, sizeof hash);
                return;
            }
        }
    }

    uint8_t *p = proto_reply_payload();
    p[PROTO_INFO_PROTOCOL_VERSION_OFF] = PROTO_VERSION;
#if TINYRNN_HAVE_MODEL
    p[PROTO_INFO_CELL_ID_OFF] = TINYRNN_CELL_ID;
    p[PROTO_INFO_HEAD_ID_OFF] = TINYRNN_HEAD_ID;
    put_u16(p + PROTO_INFO_UNITS_OFF, TINYRNN_UNITS);
    p[PROTO_INFO_LAYERS_OFF] = TINYRNN_LAYERS;
    p[PROTO_INFO_INPUT_FRAC_BITS_OFF] = TINYRNN_INPUT_FRAC_BITS;
    put_text(p + PROTO_INFO_KERNEL_PATH_OFF, PROTO_INFO_KERNEL_PATH_LEN, tinyrnn_kernel_path());
#else
    p[PROTO_INFO_CELL_ID_OFF] = PROTO_NO_MODEL_CELL;
    p[PROTO_INFO_HEAD_ID_OFF] = 0;
    put_u16(p + PROTO_INFO_UNITS_OFF, 0);
    p[PROTO_INFO_LAYERS_OFF] = 0;
    p[PROTO_INFO_INPUT_FRAC_BITS_OFF] = 0;
    put_text(p + PROTO_INFO_KERNEL_PATH_OFF, PROTO_INFO_KERNEL_PATH_LEN, "");
#endif
    p[PROTO_INFO_COUNTER_UNIT_OFF] = BOARD_COUNTER_UNIT;
    put_u32(p + PROTO_INFO_CPU_CLOCK_HZ_OFF, BOARD_CPU_CLOCK_HZ);
    put_u32(p + PROTO_INFO_COUNTER_HZ_OFF, BOARD_COUNTER_HZ); /* board.toml: the counter's ticks per second */
    put_u16(p + PROTO_INFO_INPUT_DIM_OFF, IN_DIM);
    put_u16(p + PROTO_INFO_OUTPUT_DIM_OFF, OUT_DIM);
    put_u16(p + PROTO_INFO_MAX_PAYLOAD_OFF, PROTO_MAX_PAYLOAD);
    put_u16(p + PROTO_INFO_SEQ_MAX_STEPS_PER_STEP_OFF, SEQ_MAX_PER_STEP);
    put_u16(p + PROTO_INFO_SEQ_MAX_STEPS_FINAL_OFF, SEQ_MAX_FINAL);
    put_u16(p + PROTO_INFO_STATE_WORDS_OFF, STATE_WORDS);
    put_u16(p + PROTO_INFO_SCRATCH_WORDS_OFF, SCRATCH_WORDS);
    put_text(p + PROTO_INFO_MODEL_HASH_OFF, PROTO_INFO_MODEL_HASH_LEN, model_hash);
    put_text(p + PROTO_INFO_BOARD_NAME_OFF, PROTO_INFO_BOARD_NAME_LEN, BOARD_NAME);
    proto_send_reply(req, PROTO_INFO_SIZE);
}

static void handle_reset(const proto_request_t *req)
{
    if (req->len != 0) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, 0, 0, 0);
        return;
    }
#if TINYRNN_HAVE_MODEL
    tinyrnn_reset(&tinyrnn_model, state);
#endif
    proto_send_reply(req, 0);
}

static void handle_stats(const proto_request_t *req)
{
    if (req->len != 0) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, 0, 0, 0);
        return;
    }
    const proto_counts_t *c = proto_counts();
    uart_rx_stats_t rx;
    uart_rx_stats(&rx);
    uint8_t *p = proto_reply_payload();
    put_u32(p + PROTO_STATS_REQUESTS_OFF, c->requests);
    put_u32(p + PROTO_STATS_REPEATS_OFF, c->repeats);
    put_u32(p + PROTO_STATS_FRAME_ERRORS_OFF, c->frame_errors);
    put_u32(p + PROTO_STATS_SESSION_REFUSED_OFF, c->session_refused);
    put_u32(p + PROTO_STATS_RX_BYTES_OFF, rx.bytes);
    put_u32(p + PROTO_STATS_RX_DROPPED_OFF, rx.dropped);
    put_u32(p + PROTO_STATS_RX_BUSY_OFF, rx.busy);
    put_u16(p + PROTO_STATS_RX_PEAK_OFF, rx.peak);
    put_u16(p + PROTO_STATS_RX_RING_SIZE_OFF, rx.ring_size);
    put_u32(p + PROTO_STATS_STACK_USED_OFF, platform_stack_used());
    put_u32(p + PROTO_STATS_STACK_SIZE_OFF, platform_stack_size());
    /* No heap here (everything is static): the MicroPython server's fields. */
    put_u32(p + PROTO_STATS_HEAP_MODEL_OFF, 0);
    put_u32(p + PROTO_STATS_HEAP_FREE_OFF, 0);
    put_u32(p + PROTO_STATS_HEAP_SIZE_OFF, 0);
    proto_send_reply(req, PROTO_STATS_SIZE);
}

#if TINYRNN_HAVE_MODEL
/* One kernel step on the current state; returns the ticks it took (counter reading cost removed). */
static uint32_t timed_step(const uint8_t *x_le, int32_t *y)
{
    int16_t x[IN_DIM];
    for (int i = 0; i < IN_DIM; i++) {
        x[i] = (int16_t)get_u16(x_le + 2 * i);
    }
    uint32_t t0 = counter_now();
    tinyrnn_step(&tinyrnn_model, state, scratch, x, y);
    uint32_t t1 = counter_now();
    uint32_t ticks = counter_elapsed(t0, t1);
    return ticks > counter_overhead ? ticks - counter_overhead : 0u;
}

static void handle_step(const proto_request_t *req)
{
    if (req->len != SEQ_REQ_STEP_BYTES) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, SEQ_REQ_STEP_BYTES, 0, 0);
        return;
    }
    int32_t y[OUT_DIM];
    uint32_t ticks = timed_step(req->payload, y);
    uint8_t *p = proto_reply_payload();
    put_u32(p, ticks);
    for (int j = 0; j < OUT_DIM; j++) {
        put_u32(p + PROTO_STEP_REPLY_HEADER_SIZE + 4 * j, (uint32_t)y[j]);
    }
    proto_send_reply(req, PROTO_STEP_REPLY_HEADER_SIZE + 4 * OUT_DIM);
}

static void handle_sequence(const proto_request_t *req)
{
    if (req->len < PROTO_SEQUENCE_HEADER_SIZE) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, PROTO_SEQUENCE_HEADER_SIZE, 0, 0);
        return;
    }
    uint8_t flags = req->payload[0];
    uint16_t n = get_u16(req->payload + 2);
    int per_step = (flags & PROTO_SEQ_PER_STEP) != 0;
    uint16_t limit = per_step ? SEQ_MAX_PER_STEP : SEQ_MAX_FINAL;
    if (n > limit) {
        proto_send_error(req->type, req->id, PROTO_ERR_SEQUENCE_TOO_LONG, limit, 0, 0);
        return;
    }
    uint32_t expected = PROTO_SEQUENCE_HEADER_SIZE + (uint32_t)n * SEQ_REQ_STEP_BYTES;
    if (n == 0 || req->len != expected) {
        proto_send_error(req->type, req->id, PROTO_ERR_BAD_PAYLOAD, (uint16_t)expected, 0, 0);
        return;
    }
    if (flags & PROTO_SEQ_RESET_FIRST) {
        tinyrnn_reset(&tinyrnn_model, state);
    }

    /* Reply: header | per-step ticks[n] | outputs[n][k]  (PER_STEP)   or   header | outputs[k]. */
    uint8_t *p = proto_reply_payload();
    uint8_t *ticks_out = p + PROTO_SEQUENCE_REPLY_HEADER_SIZE;
    uint8_t *y_out = per_step ? ticks_out + 4u * n : ticks_out;
    const uint8_t *x_in = req->payload + PROTO_SEQUENCE_HEADER_SIZE;
    uint32_t total = 0;
    int32_t y[OUT_DIM];
    for (uint16_t t = 0; t < n; t++) {
        uint32_t ticks = timed_step(x_in + (uint32_t)t * SEQ_REQ_STEP_BYTES, y);
        total += ticks;
        if (per_step || t == n - 1u) {
            uint8_t *dst = per_step ? y_out + 4u * OUT_DIM * t : y_out;
            for (int j = 0; j < OUT_DIM; j++) {
                put_u32(dst + 4 * j, (uint32_t)y[j]);
            }
        }
        if (per_step) {
            put_u32(ticks_out + 4u * t, ticks);
        }
    }
    p[0] = flags;
    p[1] = 0;
    put_u16(p + 2, n);
    put_u32(p + 4, total);
    uint32_t len = PROTO_SEQUENCE_REPLY_HEADER_SIZE + (per_step ? (uint32_t)n * SEQ_REPLY_STEP_BYTES : 4u * OUT_DIM);
    proto_send_reply(req, (uint16_t)len);
}
#else
static void handle_step(const proto_request_t *req)
{
    proto_send_error(req->type, req->id, PROTO_ERR_NO_MODEL, 0, 0, 0);
}

static void handle_sequence(const proto_request_t *req)
{
    proto_send_error(req->type, req->id, PROTO_ERR_NO_MODEL, 0, 0, 0);
}
#endif

void commands_handle(const proto_request_t *req)
{
    switch (req->type) {
    case PROTO_CMD_HELLO: handle_hello(req); break;
    case PROTO_CMD_RESET: handle_reset(req); break;
    case PROTO_CMD_STEP: handle_step(req); break;
    case PROTO_CMD_SEQUENCE: handle_sequence(req); break;
    case PROTO_CMD_STATS: handle_stats(req); break;
    default: proto_send_error(req->type, req->id, PROTO_ERR_UNKNOWN_COMMAND, 0, 0, 0); break;
    }
}
