/*
 * The tinyrnn kernels, one source file each (internal API; applications use tinyrnn.h).
 * Python twins with the same names: quantize/twin/cells.py, quantize/twin/fixedpoint.py.
 */
#ifndef TR_KERNELS_H
#define TR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tinyrnn.h"

/* Round a vector length up to a multiple of 4: vectors and weight rows are stored padded. */
#define TR_PAD4(n) (((n) + 3) & ~3)

/* Activation applied by tr_matvec_s16_s8 to every row it writes. */
#define TR_ACT_NONE 0       /* Q14 pre-activation */
#define TR_ACT_SIGMOID 1    /* tr_sigmoid_q15 of it, Q15 */
#define TR_ACT_TANH 2       /* tr_tanh_q15 of it, Q15 */
#define TR_ACT_LSTM 3       /* LSTM gates i, f, g, o (rows / 4 each): sigmoid, sigmoid, tanh, sigmoid */

/* The matrix-vector path, from the target CPU alone; tinyrnn_kernel_path() reports it. The one override,
 * TINYRNN_PLAIN_C=1, forces the plain-C reference path on any core (to compare, or for a compiler that cannot
 * build the assembly). The assembly paths do the full 4-row blocks, tr_matvec_s16_s8.c the rest. */
#if defined(TINYRNN_PLAIN_C) && TINYRNN_PLAIN_C
#define TR_MATVEC_DSP 0
#define TR_MATVEC_M0 0
#define TR_KERNEL_PATH "c"
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TR_MATVEC_DSP 1             /* Cortex-M4/M7/M33: tr_matvec_s16_s8_dsp.c */
#define TR_MATVEC_M0 0
#define TR_KERNEL_PATH "dsp"
#elif defined(__ARM_ARCH_6M__)
#define TR_MATVEC_DSP 0
#define TR_MATVEC_M0 1              /* Cortex-M0/M0+ (Thumb-1): tr_matvec_s16_s8_m0.c */
#define TR_KERNEL_PATH "m0"
#else
#define TR_MATVEC_DSP 0
#define TR_MATVEC_M0 0
#define TR_KERNEL_PATH "c"          /* plain C: other cores and hosts */
#endif

/* tr_matvec_s16_s8.c: out[j] = act(Q14 pre-activation of row j of `dense`).
 * a: cols_a int16 values padded to TR_PAD4(cols_a) (padding may hold anything finite: its weights are 0),
 *    4-byte aligned; b: same for cols_b, or NULL when cols_b == 0; out: rows int32 (Q14, or Q15 after an
 *    activation); act: TR_ACT_*. */
void tr_matvec_s16_s8(const tr_dense_t *dense, const int16_t *a, const int16_t *b, int32_t *out, int act);

/* The GRU reset_after candidate, whose weights hold [W_n | U_n] and whose mult_b is 0: one pass over a = x,
 * b = h with the two sums requantised apart, n[j] = (bias + acc_a * mult_a) >> 32 from dense->requant and
 * c[j] = (second[j].bias + acc_b * second[j].mult_a) >> 32, both Q14; and, where the path can, the cell
 * update in the same pass: rows 0..done-1 (done returned; the DSP path's full blocks of 4, 0 elsewhere) get
 * h_new[j] = sat16(nj + ((z[j] (h[j] - nj) + 2^14) >> 15)), nj = tanh(n[j] + round_shift(r[j] c[j], 15)),
 * r[j] = z[rows + j], built in h_new and copied over h[0..done) at the end (h is input b until then); the
 * other rows get n[j] and c[j]. h_new may share memory with n as long as
 * h_new[0..done) lies below n[done]. */
int tr_matvec_gru_s16_s8(const tr_dense_t *dense, const tr_requant_t *second, const int16_t *x,
                         int16_t *h, const int32_t *z, int16_t *h_new, int32_t *n, int32_t *c);

#if TR_MATVEC_DSP
/* tr_matvec_s16_s8.c, DSP path: layer l's whole step (tr_gru_step reset_after or tr_lstm_step: the products and
 * the cell update) in one call of the block routine, where units % 4 == 0, and after the last layer the head's
 * product over the new h too (tr_head's logits into scratch[0..rows), where the head's rows % 4 == 0).
 * h: the layer's state h; c: its LSTM cell state. Returns 0 (nothing done: the caller takes the general step),
 * 1 (the step) or 2 (the step and the logits). */
int tr_dsp_layer_step(const tinyrnn_model_t *model, int l, const int16_t *x, int16_t *h, int32_t *c,
                      int32_t *scratch);
#endif

/* tr_activation.c, in place over n int32 values: Q14 pre-activation in, Q15 activation out. */
void tr_sigmoid_q15(int32_t *z, int n);                 /* 0..32767 */
void tr_tanh_q15(int32_t *z, int n);                    /* -32768..32767 */
int32_t tr_exp_neg_q15(int32_t d);                      /* exp(d) for Q14 d <= 0: 0..32768 (unsigned Q15) */

#if TR_MATVEC_M0
/* tr_elementwise_m0.c (Cortex-M0/M0+): the loops of tr_sigmoid_q15 / tr_tanh_q15 (seg: tr_sigmoid_seg /
 * tr_tanh_seg), of tr_gru_step reset_after (`count` units from z; r, n, c follow z `units` words apart each) and
 * of tr_lstm_step, in Thumb-1 assembly. */
void tr_m0_sigmoid_q15(int32_t *z, int n, const int32_t *seg);
void tr_m0_tanh_q15(int32_t *z, int n, const int32_t *seg);
void tr_m0_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_seg);
void tr_m0_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_seg);
#endif

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
#if TR_MATVEC_DSP
/* Its second half, from the k logits (Q14) in scratch (overwritten): after tr_dsp_layer_step computed them. */
void tr_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y);
#endif

#endif /* TR_KERNELS_H */
