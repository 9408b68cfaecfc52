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
/* SXTB16 of a word rotated right by 8: GCC's arm_acle.h has no rotate form, and a C rotate is not folded. */
static inline int32_t tr_sxtb16_ror8(int32_t x)
{
    int32_t y;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(y) : "r"(x));
    return y;
}

/* A full block of 4 rows against one input: per group of 4 columns one 64-bit input load, 4 weight
 * words, 8 SXTB16 and 8 SMLAD for 16 MACs. Writes the 4 sums to acc[]; returns the next weights. */
static const int8_t *dot_block4_dsp(const int8_t *w, const int16_t *v, int groups, int32_t *acc)
{
    const int32_t *w32 = (const int32_t *)(const void *)w;      /* weights are 4-byte aligned */
    const int32_t *v32 = (const int32_t *)(const void *)v;      /* inputs are 4-byte aligned */
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; groups > 0; groups--) {
        const int32_t v01 = v32[0], v23 = v32[1];
        const int32_t w0 = w32[0], w1 = w32[1], w2 = w32[2], w3 = w32[3];
        v32 += 2;
        w32 += 4;
        a0 = __smlad(__sxtb16(w0), v01, a0);
        a1 = __smlad(__sxtb16(w1), v01, a1);
        a2 = __smlad(__sxtb16(w2), v01, a2);
        a3 = __smlad(__sxtb16(w3), v01, a3);
        a0 = __smlad(tr_sxtb16_ror8(w0), v23, a0);
        a1 = __smlad(tr_sxtb16_ror8(w1), v23, a1);
        a2 = __smlad(tr_sxtb16_ror8(w2), v23, a2);
        a3 = __smlad(tr_sxtb16_ror8(w3), v23, a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return (const int8_t *)(const void *)w32;
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
    for (; row + TR_ROW_BLOCK <= dense->rows; row += TR_ROW_BLOCK, rq += TR_ROW_BLOCK) {
        int32_t *acc_a = out + row;                 /* the a sums wait in out[] while b is summed */
        int32_t acc_b[TR_ROW_BLOCK];
        w = dot_block4_dsp(w, a, groups_a, acc_a);
        w = dot_block4_dsp(w, b, groups_b, acc_b);
        for (r = 0; r < TR_ROW_BLOCK; r++) {
            acc_a[r] = tr_requant_q14(rq[r].bias, acc_a[r], rq[r].mult_a, acc_b[r], rq[r].mult_b);
        }
    }
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
