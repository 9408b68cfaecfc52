/*
 * int8 x int16 matrix-vector product with per-row requantisation to Q14 (docs/quantization.md,
 * "Matrix-vector product" and "Requantisation"). Twin: quantize/twin/params.py Dense.product.
 *
 * Weight layout (written by quantize/emit/c_code.py, `interleave_weights`): rows are taken in blocks of
 * TR_ROW_BLOCK (the last block holds the remainder), and inside a block in pairs (A, B) = rows (0, 1), (2, 3)
 * (an odd last row pairs with a zero row). Inside a block, the columns of input a and then of input b go by
 * groups of 4 (zero weights pad each input to a multiple of 4); for each group, the block's pairs follow one
 * another, 4 int16 halfwords each (the generated arrays are int16_t):  256 * w_B[c] + w_A[c]  for c = c0..c3
 * (|w| <= 127 keeps them in int16). Byte by byte: the low byte is w_A, the high byte is w_B minus the borrow
 * of a negative w_A, so  w_B = high + (w_A < 0).
 * What the DSP path does with it: on the word (c0, c1) of a pair, SMLALD with the inputs (x[c0], x[c1])
 * adds 256 * acc_B + acc_A to a 64-bit sum S (exact), and SXTB16 of the same word is (w_A[c0], w_A[c1]),
 * which SMLAD adds to acc_A: 3 instructions for 4 MACs. At the end acc_B = (S >> 8) - (acc_A >> 8) (both
 * floor shifts: S = 256 acc_B + acc_A). One pointer walks the weights from start to end, and every input
 * word loaded is used by the block's 4 rows.
 *
 * This is layout 2 (tinyrnn.h TINYRNN_KERNEL_C_LAYOUT; the RV32IM path reads layout 3, the byte layout, below).
 * Four paths share it (chosen in tr_fast.h): the DSP path (Cortex-M4/M7/M33,
 * tr_dsp_blocks in arm_dsp/tr_matvec_s16_s8_dsp.S), the Thumb-1 path (Cortex-M0/M0+, tr_m0_blocks in
 * armv6m/tr_matvec_s16_s8_m0.S), the Thumb-2 path (Cortex-M3, tr_v7m_blocks in armv7m/tr_matvec_s16_s8_v7m.S:
 * this file's 64-bit S per halfword with SMLAL) and the plain-C reference path here (other cores, and the
 * remainder block of 1..3 rows on the assembly paths). Integer sums do not depend on their order, so all give
 * the same bits.
 */
#include <stddef.h>

#include "tr_fixedpoint.h"
#include "tr_fast.h"
#include "tr_kernels.h"
#include "tr_tables.h"

#if TINYRNN_KERNEL_C_LAYOUT == 2
#define TR_ROW_BLOCK 4   /* quantize/emit/c_code.py ROW_BLOCK; tr_m0_blocks and tr_dsp_blocks are written for 4 */

/* The plain-C reading of a row pair. w_A is the low byte of each halfword h = 256 w_B + w_A. Where the core
 * has a 32 x 32 -> 64 multiply-accumulate (Thumb-2, 64-bit hosts) it mirrors the DSP path: acc_A = sum w_A x
 * and S = sum h x (int64), then acc_B = (S >> 8) - (acc_A >> 8). Other 32-bit cores would spend several
 * instructions per weight on a 64-bit sum (RV32IM: MUL, MULH and a carry chain; Cortex-M0/M0+ a helper call),
 * so they stay in int32, exactly (docs/quantization.md, "32-bit accumulation"):
 *  - RV32IM takes the columns two at a time: p = w_A[c0] x[c0] + w_A[c1] x[c1] into acc_A, and
 *    t = h[c0] x[c0] + h[c1] x[c1] (|t| <= 2 * 32639 * 32768 < 2^31), so t - p = 256 (w_B[c0] x[c0] + w_B[c1] x[c1])
 *    (|.| <= 256 * 2 * 127 * 32768 < 2^31) and acc_B += (t - p) >> 8; w_A comes from a sign-extending byte load;
 *  - Thumb-1 cores take w_B = (h - w_A) >> 8 per weight (only for the remainder block there: tr_m0_blocks does
 *    the full blocks).
 * acc_A and acc_B themselves stay below 2^30 for every model the quantizer accepts. */
#define TR_LOW_BYTE(h) ((int32_t)(int8_t)(h))            /* conversion modulo 2^8, checked below */
typedef char tr_requires_int8_conversion_modulo[(int8_t)(int16_t)0x1280 == -128 ? 1 : -1];
#if defined(__riscv) && __riscv_xlen == 32
typedef char tr_requires_little_endian[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : -1];
#define TR_WEIGHT_A(w, c) ((int32_t)((const int8_t *)(const void *)(w))[2 * (c)])   /* the low byte */
typedef int32_t tr_sum_b_t;                                  /* acc_B */
#define TR_ACC_B(sum, acc_a) (sum)
#define TR_PAIR_DUO(w, c, x0, x1, acc_a, sum_b)                                         \
    do {                                                                                \
        const int32_t part_a_ = TR_WEIGHT_A(w, c) * (x0) + TR_WEIGHT_A(w, (c) + 1) * (x1); \
        (acc_a) += part_a_;                                                             \
        (sum_b) += ((w)[c] * (x0) + (w)[(c) + 1] * (x1) - part_a_) >> 8;                \
    } while (0)
#define TR_PAIR_GROUP(w, v0, v1, v2, v3, acc_a, sum_b)                                  \
    do {                                                                                \
        TR_PAIR_DUO(w, 0, v0, v1, acc_a, sum_b);                                        \
        TR_PAIR_DUO(w, 2, v2, v3, acc_a, sum_b);                                        \
    } while (0)
#else
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1
typedef int32_t tr_sum_b_t;                                  /* acc_B */
#define TR_MAC_B(sum, h, w_a, x) ((sum) += (((int32_t)(h) - (w_a)) >> 8) * (x))
#define TR_ACC_B(sum, acc_a) (sum)
#else
typedef int64_t tr_sum_b_t;                                  /* S = 256 acc_B + acc_A */
#define TR_MAC_B(sum, h, w_a, x) ((sum) += (int64_t)(h) * (x))
#define TR_ACC_B(sum, acc_a) ((int32_t)(((sum) >> 8) - ((acc_a) >> 8)))
#endif
#define TR_PAIR_MAC(w, c, x, acc_a, sum_b)                                              \
    do {                                                                                \
        const int32_t w_a_ = TR_LOW_BYTE((w)[c]);                                       \
        (acc_a) += w_a_ * (x);                                                          \
        TR_MAC_B(sum_b, (w)[c], w_a_, x);                                               \
    } while (0)
#define TR_PAIR_GROUP(w, v0, v1, v2, v3, acc_a, sum_b)                                  \
    do {                                                                                \
        TR_PAIR_MAC(w, 0, v0, acc_a, sum_b);                                            \
        TR_PAIR_MAC(w, 1, v1, acc_a, sum_b);                                            \
        TR_PAIR_MAC(w, 2, v2, acc_a, sum_b);                                            \
        TR_PAIR_MAC(w, 3, v3, acc_a, sum_b);                                            \
    } while (0)
#endif

/* Reference path (any CPU; on DSP CPUs only the remainder block): the sums of the `rows` rows (1..4) of one
 * block over `groups` groups of the padded input v, into acc[0..3] (acc[rows] is the zero row of an odd
 * count). Each group's 4 inputs serve every pair of the block. Returns the weights after the last group. */
static const int16_t *dot_block_c(const int16_t *w, int rows, const int16_t *v, int groups, int32_t *acc)
{
    int32_t a0 = 0, a2 = 0;
    tr_sum_b_t b1 = 0, b3 = 0;
    if (rows > 2) {                         /* two pairs: rows (0, 1) and (2, 3) */
        for (; groups > 0; groups--, v += 4, w += 8) {
            const int32_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
            TR_PAIR_GROUP(w, v0, v1, v2, v3, a0, b1);
            TR_PAIR_GROUP(w + 4, v0, v1, v2, v3, a2, b3);
        }
    } else {                                /* one pair */
        for (; groups > 0; groups--, v += 4, w += 4) {
            TR_PAIR_GROUP(w, v[0], v[1], v[2], v[3], a0, b1);
        }
    }
    acc[0] = a0;
    acc[1] = TR_ACC_B(b1, a0);
    acc[2] = a2;
    acc[3] = TR_ACC_B(b3, a2);
    return w;
}


#endif /* TINYRNN_KERNEL_C_LAYOUT == 2 */

/* Apply activation `act` in place to out[from..rows-1] (the rows not activated yet); TR_ACT_LSTM: sigmoid on
 * the i and f rows, tanh on g, sigmoid on o (rows / 4 each). */
static void activate(int32_t *out, int from, int rows, int act)
{
    if (act == TR_ACT_SIGMOID) {
        tr_sigmoid_q15(out + from, rows - from);
    } else if (act == TR_ACT_TANH) {
        tr_tanh_q15(out + from, rows - from);
    } else if (act == TR_ACT_LSTM) {
        const int g = rows / 4 * 2, o = rows / 4 * 3;
        tr_sigmoid_q15(out + from, from < g ? g - from : 0);
        from = from > g ? from : g;
        tr_tanh_q15(out + from, from < o ? o - from : 0);
        from = from > o ? from : o;
        tr_sigmoid_q15(out + from, rows - from);
    }
}

#if TINYRNN_KERNEL_C_LAYOUT == 2
/* The product of `dense` with out[j] = act(row j), or with rq2 != NULL both sums kept apart:
 * out[j] = (bias + acc_a * mult_a + acc_b * mult_b) >> 32 and out2[j] = (rq2 bias + acc_b * rq2 mult_a) >> 32.
 * gru != NULL (with rq2; the GRU reset_after candidate): where an optimized path does full blocks, it may go on
 * to the cell update of those rows into gru->h_new instead of writing out/out2; returns how many rows it did so. */
static int matvec(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                  int32_t *out, int32_t *out2, int act, const tr_gru_update_t *gru)
{
    const int groups_a = TR_PAD4(dense->cols_a) / 4;
    const int groups_b = TR_PAD4(dense->cols_b) / 4;
    const int16_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int row = 0, activated = 0, fused = 0, r;

    /* an optimized path's full blocks (tr_fast.h), returning fused from here when no row is left; the loop below
     * does the rest */
    TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru, row, activated, fused, w, rq,
                          fused);
    for (; row < dense->rows; row += TR_ROW_BLOCK) {
        const int rows = dense->rows - row < TR_ROW_BLOCK ? dense->rows - row : TR_ROW_BLOCK;
        int32_t acc_a[TR_ROW_BLOCK], acc_b[TR_ROW_BLOCK];
        w = dot_block_c(w, rows, a, groups_a, acc_a);
        w = dot_block_c(w, rows, b, groups_b, acc_b);
        for (r = 0; r < rows; r++, rq++) {
            out[row + r] = tr_requant_q14(rq->bias, acc_a[r], rq->mult_a, acc_b[r], rq->mult_b);
            if (rq2 != NULL) {
                out2[row + r] = tr_requant_q14(rq2[row + r].bias, 0, 0, acc_b[r], rq2[row + r].mult_a);
            }
        }
    }
    activate(out, activated, dense->rows, act);
    if (fused > 0 && dense->rows % TR_ROW_BLOCK != 0) {     /* the remainder block has read the old h */
        for (r = 0; r < fused; r += 2) {                    /* fused is a multiple of 4: whole int32 words */
            ((int32_t *)(void *)gru->h)[r / 2] = ((const int32_t *)(void *)gru->h_new)[r / 2];
        }
    }
    return fused;
}

#else /* TINYRNN_KERNEL_C_LAYOUT 3: the byte layout of the RV32IM path */

/*
 * Byte layout (quantize/emit/c_code.py `byte_block_weights`): rows in blocks of TR_BYTE_BLOCK (the last holds the
 * remainder, padded with zero rows to a width of 4, 8 or 16); inside a block, input a's columns then input b's (not
 * padded), and for each column the block's `width` int8 weights one after the other. One pointer walks them; a
 * column's input is loaded once for the block's rows and each MAC is a byte load, a multiply and an add (RV32IM
 * has no 64-bit multiply-accumulate and no packed halfword product to gain from). Each row's sum over one input
 * is exact in int32 (docs/quantization.md, "32-bit accumulation").
 */
#define TR_BYTE_BLOCK 16    /* quantize/emit/c_code.py BYTE_BLOCK */

/* One column of a block of 8 rows: w[0..7] times x into s0..s7. */
#define TR_BYTES8_MAC(w, x)                                                                          \
    do {                                                                                             \
        s0 += (w)[0] * (x), s1 += (w)[1] * (x), s2 += (w)[2] * (x), s3 += (w)[3] * (x);              \
        s4 += (w)[4] * (x), s5 += (w)[5] * (x), s6 += (w)[6] * (x), s7 += (w)[7] * (x);              \
    } while (0)

/* GCC's scheduler would load the 16 weights of two columns before their products and spill the sums: a compiler
 * barrier (no instruction) keeps each column's loads beside its products. */
#if defined(__GNUC__)
#define TR_COLUMN_BARRIER() __asm__ volatile("" ::: "memory")
#else
#define TR_COLUMN_BARRIER() ((void)0)
#endif

/* The sums of 8 rows over the `cols` columns of v, into acc[0..7]: each column's 8 weights at w, w + stride, ... */
static void dot_bytes8(const int8_t *w, int stride, const int16_t *v, int cols, int32_t *acc)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (; cols >= 2; cols -= 2, v += 2, w += 2 * stride) {     /* two columns a turn: half the loop overhead */
        const int32_t x0 = v[0], x1 = v[1];
        TR_BYTES8_MAC(w, x0);
        TR_COLUMN_BARRIER();
        TR_BYTES8_MAC(w + stride, x1);
        TR_COLUMN_BARRIER();
    }
    if (cols > 0) {
        const int32_t x0 = v[0];
        TR_BYTES8_MAC(w, x0);
    }
    acc[0] = s0, acc[1] = s1, acc[2] = s2, acc[3] = s3, acc[4] = s4, acc[5] = s5, acc[6] = s6, acc[7] = s7;
}

/* The same for 4 rows (stride 4), into acc[0..3]. */
static void dot_bytes4(const int8_t *w, const int16_t *v, int cols, int32_t *acc)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; cols > 0; cols--, v++, w += 4) {
        const int32_t x = v[0];
        s0 += w[0] * x, s1 += w[1] * x, s2 += w[2] * x, s3 += w[3] * x;
    }
    acc[0] = s0, acc[1] = s1, acc[2] = s2, acc[3] = s3;
}

/* The sums of a block of `width` rows (4, 8 or 16) over one input, into acc[0..width-1]; returns the weights after
 * them. */
static const int8_t *dot_block_bytes(const int8_t *w, int width, const int16_t *v, int cols, int32_t *acc)
{
    if (width == 4) {
        dot_bytes4(w, v, cols, acc);
    } else {
        dot_bytes8(w, width, v, cols, acc);
        if (width == 16) {
            dot_bytes8(w + 8, width, v, cols, acc + 8);
        }
    }
    return w + width * cols;
}

/* As the layout-2 matvec below (the same integers). The RV32IM path does every row in tr_fast_rv32.h's routine;
 * the loop is the reading of the layout in C. */
static int matvec(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                  int32_t *out, int32_t *out2, int act, const tr_gru_update_t *gru)
{
    const int8_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int row, r;
    (void)gru;                                          /* no fused cell update: every row goes to out/out2 */
    if (tr_fast_byte_product(dense, rq2, a, b, out, out2) == TR_FAST_DONE) {
        if (act != TR_ACT_NONE) {                       /* (a product without one returns at once) */
            activate(out, 0, dense->rows, act);
        }
        return 0;
    }
    for (row = 0; row < dense->rows; row += TR_BYTE_BLOCK) {
        const int rows = dense->rows - row < TR_BYTE_BLOCK ? dense->rows - row : TR_BYTE_BLOCK;
        int32_t acc_a[TR_BYTE_BLOCK], acc_b[TR_BYTE_BLOCK];
        const int width = rows > 8 ? 16 : rows > 4 ? 8 : 4;    /* the layout pads the last block to it */
        w = dot_block_bytes(w, width, a, dense->cols_a, acc_a);
        w = dot_block_bytes(w, width, b, dense->cols_b, acc_b);
        for (r = 0; r < rows; r++, rq++) {
            out[row + r] = tr_requant_q14(rq->bias, acc_a[r], rq->mult_a, acc_b[r], rq->mult_b);
            if (rq2 != NULL) {
                out2[row + r] = tr_requant_q14(rq2[row + r].bias, 0, 0, acc_b[r], rq2[row + r].mult_a);
            }
        }
    }
    activate(out, 0, dense->rows, act);
    return 0;
}
#endif /* TINYRNN_KERNEL_C_LAYOUT */

void tr_matvec_s16_s8(const tr_dense_t *dense, const int16_t *a, const int16_t *b, int32_t *out, int act)
{
    (void)matvec(dense, NULL, a, b, out, NULL, act, NULL);
}

int tr_matvec_gru_s16_s8(const tr_dense_t *dense, const tr_requant_t *second, const int16_t *x,
                         int16_t *h, const int32_t *z, int16_t *h_new, int32_t *n, int32_t *c)
{
    tr_gru_update_t gru;
    gru.z = z;
    gru.h = h;
    gru.h_new = h_new;
    return matvec(dense, second, x, h, n, c, TR_ACT_NONE, &gru);
}
