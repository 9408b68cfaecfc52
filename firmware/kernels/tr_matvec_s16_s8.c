/*
 * int8 x int16 matrix-vector product with per-row requantisation to Q14 (docs/quantization.md,
 * "Matrix-vector product" and "Requantisation"). Twin: quantize/kernel.py Dense.product.
 *
 * Weight layout (written by quantize/codegen.py, `interleave_weights`): rows are taken in blocks of
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
 * Three paths share this layout: the DSP path (__ARM_FEATURE_DSP: Cortex-M4/M7/M33), the Thumb-1 path
 * (__ARM_ARCH_6M__: Cortex-M0/M0+, tr_m0_blocks) and the plain-C reference path (other cores, and the
 * remainder block of 1..3 rows on both assembly paths). Integer sums do not depend on their order, so all
 * give the same bits.
 */
#include <stddef.h>

#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_tables.h"

#define TR_ROW_BLOCK 4

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TR_USE_DSP 1
#include <arm_acle.h>
#else
#define TR_USE_DSP 0
#endif

/* The plain-C reading of a row pair. w_A is the low byte of each halfword h = 256 w_B + w_A. Where the core
 * has a 32 x 32 -> 64 multiply-accumulate (Thumb-2, hosts) it mirrors the DSP path: acc_A = sum w_A x and
 * S = sum h x (int64), then acc_B = (S >> 8) - (acc_A >> 8). Thumb-1 cores (Cortex-M0/M0+) would call a
 * 64-bit multiply helper per weight, so they take w_B = (h - w_A) >> 8 (exact) and sum it in int32 (only
 * for the remainder block there: tr_m0_blocks does the full blocks). */
#define TR_LOW_BYTE(h) ((int32_t)(int8_t)(h))            /* conversion modulo 2^8, checked below */
typedef char tr_requires_int8_conversion_modulo[(int8_t)(int16_t)0x1280 == -128 ? 1 : -1];
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

#if defined(__ARM_ARCH_6M__) && !TR_USE_DSP
/* Cortex-M0/M0+ (Thumb-1): every full block of 4 rows (both inputs and the requantisation; the activation
 * stays in C) in one assembly routine, tr_m0_blocks. GCC's code spills the 11 live values of dot_block_c out
 * of the 8 low registers and calls the 64 x 64 multiply helper twice per row. The same integers:
 *  - sums, grouped by 2 columns: per pair and word W = (h0, h1) (LDR), S2 = h0 x0 + h1 x1 and
 *    A2 = w_A0 x0 + w_A1 x1, then acc_A += A2 and acc_B += (S2 - A2) >> 8. Exact in int32:
 *    |S2| <= 2 * 32639 * 32768 < 2^31 and S2 - A2 = 256 (w_B0 x0 + w_B1 x1), |w_B0 x0 + w_B1 x1| <= 2 * 127 *
 *    32768 < 2^23 (a third column would not fit). 15 instructions for 4 MACs; the 2 inputs of a half group
 *    (LDR, SXTH, ASRS) serve both pairs;
 *  - requantisation, (bias + acc_a mult_a + acc_b mult_b) >> 32: each product from 16-bit halves,
 *    a = 2^16 ah + al (al = a & 0xFFFF): al bl (unsigned, < 2^32), ah bl and al bh (signed, |.| < 2^31), ah bh
 *    (<= 2^30) each fit one MULS, added into the 64-bit sum with ADDS/ADCS (22 instructions a product); a zero
 *    multiplier skips its product, as in tr_requant_q14.
 * What it reads (job fields at the offsets given); it writes back w, rq, out, rq2, out2 (advanced): */
typedef struct {
    const int16_t *w;               /*  0: weights of the next block; advanced */
    const tr_requant_t *rq;         /*  4: requantisation of the next block's rows; advanced */
    const int16_t *a;               /*  8: input a, padded */
    const int16_t *b;               /* 12: input b, padded (unused when groups_b == 0) */
    int32_t groups_a;               /* 16: TR_PAD4(cols_a) / 4, >= 1 */
    int32_t groups_b;               /* 20: TR_PAD4(cols_b) / 4, >= 0 */
    int32_t *out;                   /* 24: first output row; advanced */
    const tr_requant_t *rq2;        /* 28: NULL, or the second requantisation (out2 = (bias2 + acc_b mult_a2) >> 32) */
    int32_t *out2;                  /* 32: first second output; advanced */
    int32_t blocks;                 /* 36: full blocks, >= 1; counted down */
} tr_m0_job_t;

/* One pair, 2 columns: r5 = the word (h0, h1) at weights + off, r2/r3 = x0/x1; r4..r7 work. */
#define TR_M0_PAIR(off, acc_a, acc_b)                                                   \
    "ldr    r5, [r0, #" off "]\n\t"                                                     \
    "sxth   r4, r5\n\t"                 /* h0 */                                        \
    "sxtb   r6, r5\n\t"                 /* w_A0 */                                      \
    "asrs   r5, r5, #16\n\t"            /* h1 */                                        \
    "sxtb   r7, r5\n\t"                 /* w_A1 */                                      \
    "muls   r4, r2, r4\n\t"                                                             \
    "muls   r5, r3, r5\n\t"                                                             \
    "adds   r4, r4, r5\n\t"             /* S2 */                                        \
    "muls   r6, r2, r6\n\t"                                                             \
    "muls   r7, r3, r7\n\t"                                                             \
    "adds   r6, r6, r7\n\t"             /* A2 */                                        \
    "add    " acc_a ", r6\n\t"                                                          \
    "subs   r4, r4, r6\n\t"                                                             \
    "asrs   r4, r4, #8\n\t"                                                             \
    "add    " acc_b ", r4\n\t"
#define TR_M0_INPUTS(off)                                                               \
    "ldr    r3, [r1, #" off "]\n\t"                                                     \
    "sxth   r2, r3\n\t"                                                                 \
    "asrs   r3, r3, #16\n\t"
/* r1:r0 += r2 * r3 (signed 32 x 32 -> 64); r2..r6 clobbered. MOVS #0 keeps the carry. */
#define TR_M0_MAC64                                                                     \
    "uxth   r4, r2\n\t"                 /* al */                                        \
    "asrs   r2, r2, #16\n\t"            /* ah */                                        \
    "uxth   r5, r3\n\t"                 /* bl */                                        \
    "asrs   r3, r3, #16\n\t"            /* bh */                                        \
    "movs   r6, r4\n\t"                                                                 \
    "muls   r6, r5, r6\n\t"             /* al bl */                                     \
    "adds   r0, r0, r6\n\t"                                                             \
    "movs   r6, #0\n\t"                                                                 \
    "adcs   r1, r6\n\t"                                                                 \
    "muls   r5, r2, r5\n\t"             /* ah bl */                                     \
    "muls   r4, r3, r4\n\t"             /* al bh */                                     \
    "muls   r2, r3, r2\n\t"             /* ah bh */                                     \
    "adds   r1, r1, r2\n\t"                                                             \
    "lsls   r6, r5, #16\n\t"                                                            \
    "asrs   r5, r5, #16\n\t"                                                            \
    "adds   r0, r0, r6\n\t"                                                             \
    "adcs   r1, r5\n\t"                                                                 \
    "lsls   r6, r4, #16\n\t"                                                            \
    "asrs   r4, r4, #16\n\t"                                                            \
    "adds   r0, r0, r6\n\t"                                                             \
    "adcs   r1, r4\n\t"
/* Row k of the block from the requantisation entry at r7 + 16 k ({bias lo, bias hi, mult_a, mult_b}): r1 = the
 * high word of bias + acc_a mult_a + acc_b mult_b (sums at sp + 4 k and sp + 16 + 4 k), stored to out[k]. */
#define TR_M0_ROW(k, e0, e1, ma, mb, sa, sb, o)                                          \
    "ldr    r0, [r7, #" e0 "]\n\t"                                                      \
    "ldr    r1, [r7, #" e1 "]\n\t"                                                      \
    "ldr    r3, [r7, #" ma "]\n\t"                                                      \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    1f\n\t"                                                                     \
    "ldr    r2, [sp, #" sa "]\n\t"                                                      \
    TR_M0_MAC64                                                                         \
    "1:\n\t"                                                                            \
    "ldr    r3, [r7, #" mb "]\n\t"                                                      \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    2f\n\t"                                                                     \
    "ldr    r2, [sp, #" sb "]\n\t"                                                      \
    TR_M0_MAC64                                                                         \
    "2:\n\t"                                                                            \
    "ldr    r4, [sp, #36]\n\t"          /* out */                                       \
    "str    r1, [r4, #" o "]\n\t"
/* Second output of row k (job->rq2): the high word of bias2 + acc_b mult_a2, stored to out2[k]. */
#define TR_M0_ROW2(e0, e1, ma, sb, o)                                                   \
    "ldr    r0, [r7, #" e0 "]\n\t"                                                      \
    "ldr    r1, [r7, #" e1 "]\n\t"                                                      \
    "ldr    r3, [r7, #" ma "]\n\t"                                                      \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    1f\n\t"                                                                     \
    "ldr    r2, [sp, #" sb "]\n\t"                                                      \
    TR_M0_MAC64                                                                         \
    "1:\n\t"                                                                            \
    "ldr    r4, [sp, #40]\n\t"          /* out2 */                                      \
    "str    r1, [r4, #" o "]\n\t"

/* Frame (sp offsets): 0..15 the 4 row sums of input a, 16..31 of input b, 32 job, 36 out, 40 out2 (both
 * advanced per block). The sums: local subroutine .Ltr_m0_sums (r0 weights, r1 input, r2 groups >= 1 ->
 * r8..r11 the sums of rows 0..3, r0 advanced; r12 the input end), called with BL. */
__attribute__((naked, noinline)) static void tr_m0_blocks(tr_m0_job_t *job)
{
    (void)job;                              /* in r0 (AAPCS) */
    __asm__(
        ".syntax unified\n\t"              /* GCC's Thumb-1 output is in divided syntax */
        "push   {r4, r5, r6, r7, lr}\n\t"
        "mov    r4, r8\n\t"
        "mov    r5, r9\n\t"
        "mov    r6, r10\n\t"
        "mov    r7, r11\n\t"
        "push   {r4, r5, r6, r7}\n\t"
        "sub    sp, sp, #44\n\t"
        "str    r0, [sp, #32]\n\t"
        "ldr    r1, [r0, #24]\n\t"
        "str    r1, [sp, #36]\n\t"
        "ldr    r1, [r0, #32]\n\t"
        "str    r1, [sp, #40]\n"
        ".Ltr_m0_block:\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "ldr    r0, [r7, #0]\n\t"
        "ldr    r1, [r7, #8]\n\t"
        "ldr    r2, [r7, #16]\n\t"
        "bl     .Ltr_m0_sums\n\t"
        "mov    r3, r8\n\t"
        "mov    r4, r9\n\t"
        "mov    r5, r10\n\t"
        "mov    r6, r11\n\t"
        "mov    r1, sp\n\t"
        "stmia  r1!, {r3, r4, r5, r6}\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "ldr    r2, [r7, #20]\n\t"
        "movs   r3, #0\n\t"                 /* no input b: zero sums */
        "movs   r4, #0\n\t"
        "movs   r5, #0\n\t"
        "movs   r6, #0\n\t"
        "cmp    r2, #0\n\t"
        "beq    .Ltr_m0_b_done\n\t"
        "ldr    r1, [r7, #12]\n\t"
        "bl     .Ltr_m0_sums\n\t"
        "mov    r3, r8\n\t"
        "mov    r4, r9\n\t"
        "mov    r5, r10\n\t"
        "mov    r6, r11\n"
        ".Ltr_m0_b_done:\n\t"
        "add    r1, sp, #16\n\t"
        "stmia  r1!, {r3, r4, r5, r6}\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "str    r0, [r7, #0]\n\t"           /* job->w */
        "ldr    r7, [r7, #4]\n\t"           /* rq */
        TR_M0_ROW("0", "0", "4", "8", "12", "0", "16", "0")
        TR_M0_ROW("1", "16", "20", "24", "28", "4", "20", "4")
        TR_M0_ROW("2", "32", "36", "40", "44", "8", "24", "8")
        TR_M0_ROW("3", "48", "52", "56", "60", "12", "28", "12")
        "adds   r7, #64\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "str    r7, [r4, #4]\n\t"           /* job->rq */
        "ldr    r5, [sp, #36]\n\t"
        "adds   r5, #16\n\t"
        "str    r5, [sp, #36]\n\t"
        "ldr    r7, [r4, #28]\n\t"          /* rq2 */
        "cmp    r7, #0\n\t"
        "bne    .Ltr_m0_dual\n\t"
        "b      .Ltr_m0_block_end\n"        /* (conditional branches reach +-256 bytes) */
        ".Ltr_m0_dual:\n\t"
        TR_M0_ROW2("0", "4", "8", "16", "0")
        TR_M0_ROW2("16", "20", "24", "20", "4")
        TR_M0_ROW2("32", "36", "40", "24", "8")
        TR_M0_ROW2("48", "52", "56", "28", "12")
        "adds   r7, #64\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "str    r7, [r4, #28]\n\t"          /* job->rq2 */
        "ldr    r5, [sp, #40]\n\t"
        "adds   r5, #16\n\t"
        "str    r5, [sp, #40]\n"
        ".Ltr_m0_block_end:\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "ldr    r5, [r4, #36]\n\t"
        "subs   r5, #1\n\t"
        "str    r5, [r4, #36]\n\t"
        "beq    .Ltr_m0_end\n\t"
        "b      .Ltr_m0_block\n"
        ".Ltr_m0_end:\n\t"
        "ldr    r5, [sp, #36]\n\t"
        "str    r5, [r4, #24]\n\t"          /* job->out */
        "ldr    r5, [sp, #40]\n\t"
        "str    r5, [r4, #32]\n\t"          /* job->out2 */
        "add    sp, sp, #44\n\t"
        "pop    {r4, r5, r6, r7}\n\t"
        "mov    r8, r4\n\t"
        "mov    r9, r5\n\t"
        "mov    r10, r6\n\t"
        "mov    r11, r7\n\t"
        "pop    {r4, r5, r6, r7, pc}\n"
        ".Ltr_m0_sums:\n\t"               /* 2 groups per pass; an odd count enters at the second */
        "lsls   r3, r2, #3\n\t"
        "adds   r3, r3, r1\n\t"
        "mov    r12, r3\n\t"
        "movs   r3, #0\n\t"
        "mov    r8, r3\n\t"
        "mov    r9, r3\n\t"
        "mov    r10, r3\n\t"
        "mov    r11, r3\n\t"
        "lsrs   r2, r2, #1\n\t"
        "bcc    .Ltr_m0_group\n\t"
        "subs   r0, #16\n\t"              /* the second copy reads 16 (weights) and 8 (input) further */
        "subs   r1, #8\n\t"
        "b      .Ltr_m0_group2\n"
        ".Ltr_m0_group:\n\t"
        TR_M0_INPUTS("0")
        TR_M0_PAIR("0", "r8", "r9")
        TR_M0_PAIR("8", "r10", "r11")
        TR_M0_INPUTS("4")
        TR_M0_PAIR("4", "r8", "r9")
        TR_M0_PAIR("12", "r10", "r11")
        ".Ltr_m0_group2:\n\t"
        TR_M0_INPUTS("8")
        TR_M0_PAIR("16", "r8", "r9")
        TR_M0_PAIR("24", "r10", "r11")
        TR_M0_INPUTS("12")
        TR_M0_PAIR("20", "r8", "r9")
        TR_M0_PAIR("28", "r10", "r11")
        "adds   r0, #32\n\t"
        "adds   r1, #16\n\t"
        "cmp    r1, r12\n\t"
        "beq    .Ltr_m0_sums_end\n\t"
        "b      .Ltr_m0_group\n"           /* (a conditional branch reaches 256 bytes back) */
        ".Ltr_m0_sums_end:\n\t"
        "bx     lr\n\t"
        ".syntax divided\n\t");
}
#define TR_USE_M0_ASM 1
#else
#define TR_USE_M0_ASM 0
#endif

#if TR_USE_DSP
/* The DSP path: every full block of 4 rows (both inputs, the requantisation and the optional activation)
 * in one assembly routine, tr_dsp_blocks. What it reads (once, into its frame); it writes back w and rq
 * (advanced past the full blocks): */
typedef struct {
    const int16_t *w;               /*  0: weights of the next block; advanced */
    const tr_requant_t *rq;         /*  4: requantisation of the next block's rows; advanced */
    const int16_t *a;               /*  8: input a, padded */
    const int16_t *b;               /* 12: input b, padded (unused when groups_b == 0) */
    int32_t groups_a;               /* 16: TR_PAD4(cols_a) / 4, >= 1 */
    int32_t groups_b;               /* 20: TR_PAD4(cols_b) / 4, >= 0 */
    int32_t *out;                   /* 24: first output row */
    int32_t blocks;                 /* 28: full blocks, >= 1 */
    int32_t act;                    /* 32: TR_ACT_NONE / TR_ACT_SIGMOID / TR_ACT_TANH, TR_DSP_DUAL or TR_DSP_LSTM */
    const void *aux;                /* 36: activation table at the entry for z = 0 (entry 256); or, for
                                     *     TR_DSP_DUAL, the second requantisation */
    int32_t out2_offset;            /* 40: TR_DSP_DUAL: bytes from out[j] to the second output of row j */
    int32_t lstm_o_blocks;          /* 44: TR_DSP_LSTM: blocks left <= this: the o gate (sigmoid) */
    int32_t lstm_g_blocks;          /* 48: TR_DSP_LSTM: blocks left > this: the i, f gates (sigmoid); else g (tanh) */
    const int16_t *tanh_mid;        /* 52: TR_DSP_LSTM: the tanh table at the entry for z = 0 */
} tr_dsp_job_t;
#define TR_DSP_DUAL 3               /* job.act: out[j] from input a only, out2[j] from input b only */
#define TR_DSP_LSTM 4               /* job.act: TR_ACT_LSTM with units % 4 == 0 (no block straddles two gates) */

#if TR_SIGMOID_SAT_BITS != 19 || TR_SIGMOID_SEG_BITS != 10 || TR_TANH_SAT_BITS != 18 || TR_TANH_SEG_BITS != 9 \
    || TR_TABLE_SEGMENTS != 512
#error "tr_dsp_blocks hard-codes the table geometry of tr_tables.h: update its activation code"
#endif

/* One group of 4 columns for the 4 rows, as pairs P = rows (0, 1) and Q = rows (2, 3): LDRD of 4 int16
 * inputs (r4 = x c0 c1, r5 = x c2 c3), per pair LDM of its 2 weight words (r8 = halfwords c0 c1, r9 = c2 c3),
 * per word SMLALD into the pair's 64-bit S (256 acc_B + acc_A), then SXTB16 in place (w_A) and SMLAD into
 * acc_A: 15 instructions for 16 MACs. Sums: r0 = acc_A(P), r2:r1 = S(P), r3 = acc_A(Q), r7:r6 = S(Q).
 * FIRST: the first word of each pair (TR_WORD0_FIRST in the first group, which starts the sums). */
#define TR_PAIR(FIRST, acc, lo, hi)                                                     \
    "ldmia  r11!, {r8, r9}\n\t"                                                          \
    FIRST(acc, lo, hi)                                                                   \
    "smlald " lo ", " hi ", r9, r5\n\t"                                                  \
    "sxtb16 r9, r9\n\t"                                                                  \
    "smlad  " acc ", r9, r5, " acc "\n\t"
/* The first word of a pair in the first group starts the sums: SMUAD of the halfwords cannot overflow
 * (2 * 32639 * 32768 < 2^31), ASR sign-extends it into the high word of S. */
#define TR_WORD0_FIRST(acc, lo, hi)                                                     \
    "smuad  " lo ", r8, r4\n\t"                                                          \
    "asr    " hi ", " lo ", #31\n\t"                                                     \
    "sxtb16 r8, r8\n\t"                                                                  \
    "smuad  " acc ", r8, r4\n\t"
#define TR_WORD0_NEXT(acc, lo, hi)                                                      \
    "smlald " lo ", " hi ", r8, r4\n\t"                                                  \
    "sxtb16 r8, r8\n\t"                                                                  \
    "smlad  " acc ", r8, r4, " acc "\n\t"
#define TR_GROUP(FIRST)                                                                 \
    "ldrd   r4, r5, [r12], #8\n\t"                                                       \
    TR_PAIR(FIRST, "r0", "r1", "r2")                                                     \
    TR_PAIR(FIRST, "r3", "r6", "r7")

/* All groups of one input into the 4 row sums r0 (row 0), r1 (row 1), r3 (row 2), r2 (row 3). On entry r12 =
 * the input, lr = the loop count ceil((groups - 1) / 4) and [sp, #ENTRY] the address where the remaining
 * groups start (set once per call by TR_SEGMENT_SETUP). The first group is peeled (it starts the sums), the
 * rest run in a loop unrolled by 4 entered at copy (-(groups - 1)) & 3, or at the end when groups == 1; then
 * acc_B = (S >> 8) - (acc_A >> 8) per pair (the low word of S >> 8 is lo >> 8 | hi << 24; the result fits
 * int32). L is a unique label prefix. */
#define TR_SEGMENT(L, ENTRY)                                                            \
    TR_GROUP(TR_WORD0_FIRST)                                                            \
    "ldr    pc, [sp, #" ENTRY "]\n"                                                     \
    L "_g0:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g1:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g2:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g3:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    "subs   lr, lr, #1\n\t"                                                             \
    "bne    " L "_g0\n"                                                                 \
    L "_done:\n\t"                                                                      \
    "lsr    r1, r1, #8\n\t"                                                             \
    "orr    r1, r1, r2, lsl #24\n\t"                                                    \
    "sub    r1, r1, r0, asr #8\n\t"                                                     \
    "lsr    r6, r6, #8\n\t"                                                             \
    "orr    r6, r6, r7, lsl #24\n\t"                                                    \
    "sub    r2, r6, r3, asr #8\n\t"
/* The entry table of a segment: the 4 loop copies, then the end (groups == 1); Thumb addresses (bit 0 set)
 * for LDR PC. */
#define TR_SEGMENT_TABLE(L)                                                             \
    ".word  " L "_g0 + 1, " L "_g1 + 1, " L "_g2 + 1, " L "_g3 + 1, " L "_done + 1\n"
/* Once per call: r2 = groups >= 1, r3 = the segment's entry table -> r4 = loop count ceil((groups - 1) / 4),
 * r5 = entry address. Uses r6. */
#define TR_SEGMENT_SETUP                                                                \
    "subs   r6, r2, #1\n\t"                                                             \
    "add    r4, r6, #3\n\t"                                                             \
    "lsr    r4, r4, #2\n\t"                                                             \
    "rsb    r5, r6, #0\n\t"                                                             \
    "and    r5, r5, #3\n\t"                                                             \
    "it     eq\n\t"                                                                     \
    "moveq  r5, #4\n\t"                                                                 \
    "ldr    r5, [r3, r5, lsl #2]\n\t"

/* Table activation of z in r5 (Q14 -> Q15, docs/quantization.md "Activations"): SSAT clamps to the table
 * range, r9/r10 point at the table entries for z = 0 and the next one, so the signed segment index needs
 * no offset; y = T[i] + ((T[i+1] - T[i]) * frac + 2^(fb-1)) >> fb. Uses r4, r6, r7. */
#define TR_ACT_CODE(sat, fb, half)                                                      \
    "ssat   r5, #" sat ", r5\n\t"                                                       \
    "asr    r6, r5, #" fb "\n\t"                                                        \
    "ldrsh  r7, [r9, r6, lsl #1]\n\t"                                                   \
    "ldrsh  r6, [r10, r6, lsl #1]\n\t"                                                  \
    "ubfx   r4, r5, #0, #" fb "\n\t"                                                    \
    "sub    r6, r6, r7\n\t"                                                             \
    "mul    r6, r6, r4\n\t"                                                             \
    "add    r6, r6, #" half "\n\t"                                                      \
    "add    r5, r7, r6, asr #" fb "\n\t"
#define TR_ACT_SIGMOID_CODE TR_ACT_CODE("19", "10", "512")
#define TR_ACT_TANH_CODE TR_ACT_CODE("18", "9", "256")

/* Row k of the block: (bias + acc_a * mult_a + acc_b * mult_b) >> 32 with two SMLAL (acc_a from the
 * stack, acc_b in a register), the activation, one store. r12 walks the requant entries, lr the outputs. */
#define TR_ROW(acc_b, acc_a_offset, ACT)                                                \
    "ldmia  r12!, {r4, r5, r6, r7}\n\t"                                                 \
    "ldr    r8, [sp, #" acc_a_offset "]\n\t"                                            \
    "smlal  r4, r5, r8, r6\n\t"                                                         \
    "smlal  r4, r5, " acc_b ", r7\n\t"                                                  \
    ACT                                                                                 \
    "str    r5, [lr], #4\n\t"
#define TR_ROWS(ACT) TR_ROW("r0", "0", ACT) TR_ROW("r1", "4", ACT) TR_ROW("r3", "8", ACT) TR_ROW("r2", "12", ACT)

/* TR_DSP_DUAL row k: out[k] = (bias + acc_a * mult_a) >> 32 (mult_b is 0 there) and, from the second
 * requantisation (r9), out2[k] = (bias2 + acc_b * mult_a2) >> 32, stored at lr + r10. */
#define TR_DUAL_ROW(acc_b, acc_a_offset)                                                \
    "ldmia  r12!, {r4, r5, r6, r7}\n\t"                                                 \
    "ldr    r8, [sp, #" acc_a_offset "]\n\t"                                            \
    "smlal  r4, r5, r8, r6\n\t"                                                         \
    "ldr    r8, [r9, #8]\n\t"                                                           \
    "ldrd   r6, r7, [r9], #16\n\t"                                                      \
    "smlal  r6, r7, " acc_b ", r8\n\t"                                                  \
    "str    r7, [lr, r10]\n\t"                                                          \
    "str    r5, [lr], #4\n\t"

/* job->blocks full blocks of 4 rows. Registers in the loops: r0..r3, r6, r7 sums (TR_GROUP), r4/r5 inputs, r8/r9
 * weights, r11 weight pointer, r12 input pointer, lr loop count. The prologue copies the job into the
 * routine's frame, with every per-call decision made once: the loop count and entry of each input segment
 * and the address of the requantisation code (by job->act), so a block reads its set-up with LDRD and
 * dispatches with LDR PC. Frame (sp offsets):
 *    0..15: the 4 sums of input a         16: job
 *   20, 24, 28: input a, loop count, entry
 *   32, 36, 40, 44: input b, loop count, start (segment b, or zero sums when groups_b == 0), entry
 *   48, 52: requantisation entries, outputs (advanced)
 *   56, 60: table entry for z = 0 and the next one (TR_DSP_DUAL: second requantisation, advanced, and
 *           out2_offset)
 *   64: requantisation code     68: blocks left     72, 76: lstm_o_blocks, lstm_g_blocks     80: tanh_mid */
__attribute__((naked, noinline)) static void tr_dsp_blocks(tr_dsp_job_t *job)
{
    (void)job;                              /* in r0 (AAPCS) */
    __asm__(
        "push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub    sp, sp, #84\n\t"
        "str    r0, [sp, #16]\n\t"
        "ldr    r11, [r0, #0]\n\t"
        "ldr    r1, [r0, #4]\n\t"
        "ldr    r2, [r0, #24]\n\t"
        "strd   r1, r2, [sp, #48]\n\t"
        "ldr    r1, [r0, #36]\n\t"
        "ldr    r2, [r0, #40]\n\t"
        "ldr    r3, [r0, #32]\n\t"
        "cmp    r3, #3\n\t"                 /* TR_DSP_DUAL keeps out2_offset; the tables their next entry */
        "it     ne\n\t"
        "addne  r2, r1, #2\n\t"
        "strd   r1, r2, [sp, #56]\n\t"
        "adr    r2, .Ltr_dsp_act_table\n\t"
        "ldr    r2, [r2, r3, lsl #2]\n\t"
        "ldr    r1, [r0, #28]\n\t"
        "strd   r2, r1, [sp, #64]\n\t"
        "ldrd   r1, r2, [r0, #44]\n\t"
        "strd   r1, r2, [sp, #72]\n\t"
        "ldr    r1, [r0, #52]\n\t"
        "str    r1, [sp, #80]\n\t"
        "ldr    r2, [r0, #16]\n\t"
        "adr    r3, .Ltr_dsp_a_table\n\t"
        TR_SEGMENT_SETUP
        "ldr    r1, [r0, #8]\n\t"
        "str    r1, [sp, #20]\n\t"
        "strd   r4, r5, [sp, #24]\n\t"
        "adr    r3, .Ltr_dsp_b_table\n\t"
        "ldr    r1, [r0, #12]\n\t"
        "ldr    r2, [r0, #20]\n\t"
        "ldr    r7, [r3, #24]\n\t"          /* no input b: zero sums */
        "cmp    r2, #0\n\t"
        "beq    .Ltr_dsp_setup_done\n\t"
        "ldr    r7, [r3, #20]\n\t"
        TR_SEGMENT_SETUP
        ".Ltr_dsp_setup_done:\n\t"
        "strd   r1, r4, [sp, #32]\n\t"
        "strd   r7, r5, [sp, #40]\n"
        ".Ltr_dsp_block:\n\t"
        "ldrd   r12, lr, [sp, #20]\n\t"
        TR_SEGMENT(".Ltr_dsp_a", "28")
        "strd   r0, r1, [sp, #0]\n\t"
        "strd   r3, r2, [sp, #8]\n\t"
        "ldrd   r12, lr, [sp, #32]\n\t"
        "ldr    pc, [sp, #40]\n"
        ".Ltr_dsp_b_start:\n\t"
        TR_SEGMENT(".Ltr_dsp_b", "44")
        ".Ltr_dsp_requant:\n\t"
        "ldrd   r12, lr, [sp, #48]\n\t"
        "ldrd   r9, r10, [sp, #56]\n\t"
        "ldr    pc, [sp, #64]\n"
        ".Ltr_dsp_none:\n\t"
        TR_ROWS("")
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_tanh:\n\t"
        TR_ROWS(TR_ACT_TANH_CODE)
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_dual:\n\t"
        TR_DUAL_ROW("r0", "0") TR_DUAL_ROW("r1", "4") TR_DUAL_ROW("r3", "8") TR_DUAL_ROW("r2", "12")
        "str    r9, [sp, #56]\n\t"
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_no_b:\n\t"
        "movs   r0, #0\n\t"
        "movs   r1, #0\n\t"
        "movs   r2, #0\n\t"
        "movs   r3, #0\n\t"
        "b      .Ltr_dsp_requant\n"
        ".Ltr_dsp_lstm:\n\t"               /* per block: sigmoid for i, f, o; tanh for g */
        "ldr    r4, [sp, #68]\n\t"
        "ldr    r7, [sp, #72]\n\t"
        "cmp    r4, r7\n\t"
        "bls    .Ltr_dsp_sigmoid\n\t"
        "ldr    r7, [sp, #76]\n\t"
        "cmp    r4, r7\n\t"
        "bhi    .Ltr_dsp_sigmoid\n\t"
        "ldr    r9, [sp, #80]\n\t"
        "add    r10, r9, #2\n\t"
        "b      .Ltr_dsp_tanh\n"
        ".Ltr_dsp_sigmoid:\n\t"
        TR_ROWS(TR_ACT_SIGMOID_CODE)
        ".Ltr_dsp_block_end:\n\t"
        "strd   r12, lr, [sp, #48]\n\t"
        "ldr    r4, [sp, #68]\n\t"
        "subs   r4, r4, #1\n\t"
        "str    r4, [sp, #68]\n\t"
        "bne    .Ltr_dsp_block\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "str    r11, [r10, #0]\n\t"
        "str    r12, [r10, #4]\n\t"
        "add    sp, sp, #84\n\t"
        "pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".align 2\n"
        ".Ltr_dsp_act_table:\n\t"          /* by job->act: TR_ACT_NONE, SIGMOID, TANH, TR_DSP_DUAL, TR_DSP_LSTM */
        ".word  .Ltr_dsp_none + 1, .Ltr_dsp_sigmoid + 1, .Ltr_dsp_tanh + 1, .Ltr_dsp_dual + 1, .Ltr_dsp_lstm + 1\n"
        ".Ltr_dsp_a_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_a")
        ".Ltr_dsp_b_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_b")
        ".word  .Ltr_dsp_b_start + 1, .Ltr_dsp_no_b + 1\n\t");
}
#endif

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

/* The product of `dense` with out[j] = act(row j), or with rq2 != NULL both sums kept apart:
 * out[j] = (bias + acc_a * mult_a + acc_b * mult_b) >> 32 and out2[j] = (rq2 bias + acc_b * rq2 mult_a) >> 32. */
static void matvec(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                   int32_t *out, int32_t *out2, int act)
{
    const int groups_a = TR_PAD4(dense->cols_a) / 4;
    const int groups_b = TR_PAD4(dense->cols_b) / 4;
    const int16_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int row = 0, activated = 0, r;

#if TR_USE_DSP
    if (dense->rows >= TR_ROW_BLOCK) {
        tr_dsp_job_t job;
        job.w = w;
        job.rq = rq;
        job.a = a;
        job.b = b;
        job.groups_a = groups_a;
        job.groups_b = groups_b;
        job.out = out;
        job.blocks = dense->rows / TR_ROW_BLOCK;
        job.act = rq2 != NULL ? TR_DSP_DUAL : act;
        if (act == TR_ACT_LSTM) {
            const int units = dense->rows / 4;
            job.act = units % TR_ROW_BLOCK == 0 ? TR_DSP_LSTM : TR_ACT_NONE;
            job.lstm_o_blocks = units / TR_ROW_BLOCK;
            job.lstm_g_blocks = units / TR_ROW_BLOCK * 2;
        }
        job.tanh_mid = tr_tanh_table + TR_TABLE_SEGMENTS / 2;
        job.aux = rq2 != NULL ? (const void *)rq2
                  : act == TR_ACT_TANH ? (const void *)(tr_tanh_table + TR_TABLE_SEGMENTS / 2)
                                       : (const void *)(tr_sigmoid_table + TR_TABLE_SEGMENTS / 2);
        job.out2_offset = rq2 != NULL ? (int32_t)((char *)out2 - (char *)out) : 0;
        tr_dsp_blocks(&job);
        row = dense->rows - dense->rows % TR_ROW_BLOCK;
        w = job.w;
        rq = job.rq;
        activated = job.act == TR_ACT_NONE || job.act == TR_DSP_DUAL ? 0 : row;
    }
#elif TR_USE_M0_ASM
    if (dense->rows >= TR_ROW_BLOCK) {
        tr_m0_job_t job;
        job.w = w;
        job.rq = rq;
        job.a = a;
        job.b = b;
        job.groups_a = groups_a;
        job.groups_b = groups_b;
        job.out = out;
        job.rq2 = rq2;
        job.out2 = out2;
        job.blocks = dense->rows / TR_ROW_BLOCK;
        tr_m0_blocks(&job);
        row = dense->rows - dense->rows % TR_ROW_BLOCK;
        w = job.w;
        rq = job.rq;
    }
#endif
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
}

void tr_matvec_s16_s8(const tr_dense_t *dense, const int16_t *a, const int16_t *b, int32_t *out, int act)
{
    matvec(dense, NULL, a, b, out, NULL, act);
}

void tr_matvec_dual_s16_s8(const tr_dense_t *dense, const tr_requant_t *second, const int16_t *a,
                           const int16_t *b, int32_t *out, int32_t *out2)
{
    matvec(dense, second, a, b, out, out2, TR_ACT_NONE);
}
