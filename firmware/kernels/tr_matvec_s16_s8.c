/*
 * int8 x int16 matrix-vector product with per-row requantisation to Q14 (docs/quantization.md,
 * "Matrix-vector product" and "Requantisation"). Twin: quantize/kernel.py Dense.product.
 *
 * Weight layout (written by quantize/codegen.py, `interleave_weights`): rows are taken in blocks of
 * TR_ROW_BLOCK (the last block holds the remainder). Inside a block, the columns of input a and then of
 * input b go by groups of 4 (zero weights pad each input to a multiple of 4); for each group, the block's
 * rows follow one another, 4 bytes each, in the order  w[c0] w[c2] w[c1] w[c3].
 * That order is what SXTB16 wants: on a little-endian word, SXTB16 w gives the halfword pair
 * (w[c0], w[c1]) and SXTB16 (w ror 8) gives (w[c2], w[c3]), matching the int16 pairs (x[c0], x[c1]) and
 * (x[c2], x[c3]) of one 64-bit load of the input. One pointer walks the weights from start to end, and
 * every input word loaded is used by TR_ROW_BLOCK rows.
 *
 * Two paths share this layout: the DSP path (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) and the plain-C
 * reference path. Integer sums do not depend on their order, so both give the same bits.
 */
#include <stddef.h>

#include "tr_fixedpoint.h"
#include "tr_kernels.h"

#define TR_ROW_BLOCK 4

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TR_USE_DSP 1
#include <arm_acle.h>
#else
#define TR_USE_DSP 0
#endif

/* One row of a block of `rows` interleaved rows: the dot product with the padded input v.
 * Reference path (any CPU), used for every row on CPUs without DSP and for remainder blocks. */
static int32_t dot_row_c(const int8_t *w, int rows, const int16_t *v, int groups)
{
    int32_t acc = 0;
    for (; groups > 0; groups--, w += 4 * rows, v += 4) {
        acc += w[0] * v[0] + w[1] * v[2] + w[2] * v[1] + w[3] * v[3];   /* layout order c0 c2 c1 c3 */
    }
    return acc;
}

#if TR_USE_DSP
/* The DSP inner loop for a full block of 4 rows against one input vector: per group of 4 columns one
 * LDRD of 4 int16 inputs, two LDRD of the 4 rows' weight words, 8 SXTB16 and 8 SMLAD: 21 instructions
 * for 16 MACs. Written as one asm block because GCC 12 spills the loop bound and does not use
 * post-indexed loads here. Sets sum[0..3]; returns the weights after the block's groups. */
__attribute__((always_inline)) static inline const int8_t *dot_block4_dsp(const int8_t *w, const int16_t *v, int groups, int32_t *sum)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t x01, x23, w0, w1, t;
    if (groups > 0) {
        __asm__ volatile(
            "1:\n\t"
            "ldrd   %[x01], %[x23], [%[v]], #8\n\t"   /* inputs c0 c1 | c2 c3 */
            "ldrd   %[w0], %[w1], [%[w]], #8\n\t"     /* rows 0, 1: bytes c0 c2 c1 c3 */
            "sxtb16 %[t], %[w0]\n\t"                  /* (w c0, w c1) */
            "smlad  %[a0], %[t], %[x01], %[a0]\n\t"
            "sxtb16 %[t], %[w0], ror #8\n\t"          /* (w c2, w c3) */
            "smlad  %[a0], %[t], %[x23], %[a0]\n\t"
            "sxtb16 %[t], %[w1]\n\t"
            "smlad  %[a1], %[t], %[x01], %[a1]\n\t"
            "sxtb16 %[t], %[w1], ror #8\n\t"
            "smlad  %[a1], %[t], %[x23], %[a1]\n\t"
            "ldrd   %[w0], %[w1], [%[w]], #8\n\t"     /* rows 2, 3 */
            "sxtb16 %[t], %[w0]\n\t"
            "smlad  %[a2], %[t], %[x01], %[a2]\n\t"
            "sxtb16 %[t], %[w0], ror #8\n\t"
            "smlad  %[a2], %[t], %[x23], %[a2]\n\t"
            "sxtb16 %[t], %[w1]\n\t"
            "smlad  %[a3], %[t], %[x01], %[a3]\n\t"
            "sxtb16 %[t], %[w1], ror #8\n\t"
            "smlad  %[a3], %[t], %[x23], %[a3]\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [v] "+r"(v),
              [n] "+r"(groups), [x01] "=&r"(x01), [x23] "=&r"(x23), [w0] "=&r"(w0), [w1] "=&r"(w1),
              [t] "=&r"(t)
            :
            : "cc", "memory");
    }
    sum[0] = a0;
    sum[1] = a1;
    sum[2] = a2;
    sum[3] = a3;
    return w;
}
#endif

void tr_matvec_s16_s8(const tr_dense_t *dense, const int16_t *a, const int16_t *b, int32_t *out)
{
    const int groups_a = TR_PAD4(dense->cols_a) / 4;
    const int groups_b = TR_PAD4(dense->cols_b) / 4;
    const int8_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int row = 0, r;

#if TR_USE_DSP
    for (; row + TR_ROW_BLOCK <= dense->rows; row += TR_ROW_BLOCK, rq += TR_ROW_BLOCK, out += TR_ROW_BLOCK) {
        int32_t acc_b[TR_ROW_BLOCK];
        w = dot_block4_dsp(w, a, groups_a, out);            /* the a sums wait in out[] while b is summed */
        w = dot_block4_dsp(w, b, groups_b, acc_b);
        out[0] = tr_requant_q14(rq[0].bias, out[0], rq[0].mult_a, acc_b[0], rq[0].mult_b);
        out[1] = tr_requant_q14(rq[1].bias, out[1], rq[1].mult_a, acc_b[1], rq[1].mult_b);
        out[2] = tr_requant_q14(rq[2].bias, out[2], rq[2].mult_a, acc_b[2], rq[2].mult_b);
        out[3] = tr_requant_q14(rq[3].bias, out[3], rq[3].mult_a, acc_b[3], rq[3].mult_b);
    }
    out -= row;
#endif
    for (; row < dense->rows; row += TR_ROW_BLOCK) {
        const int rows = dense->rows - row < TR_ROW_BLOCK ? dense->rows - row : TR_ROW_BLOCK;
        for (r = 0; r < rows; r++, rq++) {
            const int32_t acc_a = dot_row_c(w + 4 * r, rows, a, groups_a);
            const int32_t acc_b = dot_row_c(w + 4 * rows * groups_a + 4 * r, rows, b, groups_b);
            out[row + r] = tr_requant_q14(rq->bias, acc_a, rq->mult_a, acc_b, rq->mult_b);
        }
        w += 4 * rows * (groups_a + groups_b);
    }
}
