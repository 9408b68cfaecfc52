/*
 * The tinyrnn kernels, one source file each (internal API; applications use tinyrnn.h).
 * Python twins with the same names: quantize/twin/cells.py, quantize/twin/fixedpoint.py.
 */
#ifndef TR_KERNELS_H
#define TR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tinyrnn.h"

/* A compile-time check that C99 accepts (no _Static_assert): an array of size -1 does not compile. */
#define TR_CHECK(cond, name) typedef char tr_check_##name[(cond) ? 1 : -1]

/* Round a vector length up to a multiple of 4: vectors and weight rows are stored padded. */
#define TR_PAD4(n) (((n) + 3) & ~3)

/* Activation applied by tr_matvec_s16_s8 to every row it writes (a number space of its own: an optimized path's
 * job codes are its own, e.g. TR_DSP_MODE_* in arm_dsp/tr_dsp_job.h). */
enum tr_act {
    TR_ACT_NONE = 0,                /* Q14 pre-activation */
    TR_ACT_SIGMOID = 1,             /* tr_sigmoid_q15 of it, Q15 */
    TR_ACT_TANH = 2,                /* tr_tanh_q15 of it, Q15 */
    TR_ACT_LSTM = 3                 /* LSTM gates i, f, g, o (rows / 4 each): sigmoid, sigmoid, tanh, sigmoid */
};

/* tr_matvec_s16_s8.c: out[j] = act(Q14 pre-activation of row j of `dense`).
 * a: cols_a int16 values padded to TR_PAD4(cols_a) (padding may hold anything finite: its weights are 0),
 *    4-byte aligned; b: same for cols_b, or NULL when cols_b == 0; out: rows int32 (Q14, or Q15 after an
 *    activation); act: TR_ACT_*. */
void tr_matvec_s16_s8(const tr_dense_t *dense, const int16_t *a, const int16_t *b, int32_t *out, int act);

/* The GRU reset_after candidate, whose weights hold [W_n | U_n] and whose mult_b is 0: one pass over a = x,
 * b = h with the two sums requantised apart, n[j] = (bias + acc_a * mult_a) >> 32 from dense->requant and
 * c[j] = (second[j].bias + acc_b * second[j].mult_a) >> 32, both Q14; and, where the path can, the cell
 * update in the same pass: rows 0..done-1 (done returned; an optimized path's fused rows, 0 in plain C) get
 * h_new[j] = sat16(nj + ((z[j] (h[j] - nj) + 2^14) >> 15)), nj = tanh(n[j] + round_shift(r[j] c[j], 15)),
 * r[j] = z[rows + j], built in h_new and copied over h[0..done) at the end (h is input b until then); the
 * other rows get n[j] and c[j]. h_new may share memory with n as long as
 * h_new[0..done) lies below n[done]. */
int tr_matvec_gru_s16_s8(const tr_dense_t *dense, const tr_requant_t *second, const int16_t *x,
                         int16_t *h, const int32_t *z, int16_t *h_new, int32_t *n, int32_t *c);

/* What tr_matvec_gru_s16_s8 hands an optimized path along with the product (tr_fast.h): the GRU cell update. */
typedef struct {
    const int32_t *z;                   /* [rows] update gate, then [rows] reset gate, Q15 */
    int16_t *h;                         /* [rows] h before the step (input b), Q15; after it for the fused rows */
    int16_t *h_new;                     /* [rows] h after the step, Q15 */
} tr_gru_update_t;

/* tr_activation.c, in place over n int32 values: Q14 pre-activation in, Q15 activation out. */
void tr_sigmoid_q15(int32_t *z, int n);                 /* 0..32767 */
void tr_tanh_q15(int32_t *z, int n);                    /* -32768..32767 */
int32_t tr_exp_neg_q15(int32_t d);                      /* exp(d) for Q14 d <= 0: 0..32768 (unsigned Q15) */

/* tr_gru.c: one GRU step; h (Q15, padded) updated in place.
 * scratch: 4*units int32 (reset_after) or 3*units + TR_PAD4(units)/2 int32 (reset_before). */
void tr_gru_step(const tr_layer_t *layer, int reset_after, uint16_t units, const int16_t *x,
                 int16_t *h, int32_t *scratch);

/* tr_lstm.c: one LSTM step; h (Q15, padded) and c (Q14, units int32) updated in place.
 * scratch: 4*units int32. */
void tr_lstm_step(const tr_layer_t *layer, uint16_t units, const int16_t *x, int16_t *h, int32_t *c,
                  int32_t *scratch);

/* tr_head.c: the head over h: softmax Q15 probabilities or linear Q14 values into y[output_dim].
 * scratch: output_dim int32. */
void tr_head(const tr_dense_t *dense, uint8_t head, const int16_t *h, int32_t *scratch, int32_t *y);
/* Its second half, from the k logits (Q14) in scratch (overwritten): for a path whose layer step computed them
 * (TR_FAST_DONE_WITH_LOGITS); tr_head.c defines it where the hook says such a path is built (TR_FAST_HEAD_OUTPUTS). */
void tr_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y);

#endif /* TR_KERNELS_H */
