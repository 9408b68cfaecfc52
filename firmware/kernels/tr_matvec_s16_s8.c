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
#include "tr_tables.h"

#define TR_ROW_BLOCK 4

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TR_USE_DSP 1
#include <arm_acle.h>
#else
#define TR_USE_DSP 0
#endif

/* Reference path (any CPU; on DSP CPUs only the remainder block): the sums of the `rows` rows (1..4) of one
 * block over `groups` groups of the padded input v, into acc[0..rows-1]. Each group's 4 inputs are
 * loaded once and serve every row of the block. Returns the weights after the last group. */
static const int8_t *dot_block_c(const int8_t *w, int rows, const int16_t *v, int groups, int32_t *acc)
{
    int r;
    if (rows == TR_ROW_BLOCK) {             /* full block: the 4 sums in registers */
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (; groups > 0; groups--, v += 4, w += 16) {
            const int32_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
            s0 += w[0] * v0 + w[1] * v2 + w[2] * v1 + w[3] * v3;          /* layout order c0 c2 c1 c3 */
            s1 += w[4] * v0 + w[5] * v2 + w[6] * v1 + w[7] * v3;
            s2 += w[8] * v0 + w[9] * v2 + w[10] * v1 + w[11] * v3;
            s3 += w[12] * v0 + w[13] * v2 + w[14] * v1 + w[15] * v3;
        }
        acc[0] = s0;
        acc[1] = s1;
        acc[2] = s2;
        acc[3] = s3;
        return w;
    }
    for (r = 0; r < rows; r++) {
        acc[r] = 0;
    }
    for (; groups > 0; groups--, v += 4) {
        for (r = 0; r < rows; r++, w += 4) {
            acc[r] += w[0] * v[0] + w[1] * v[2] + w[2] * v[1] + w[3] * v[3];
        }
    }
    return w;
}

#if TR_USE_DSP
/* The DSP path: every full block of 4 rows (both inputs, the requantisation and the optional activation)
 * in one assembly routine, tr_dsp_blocks. What it reads and advances: */
typedef struct {
    const int8_t *w;                /*  0: weights of the next block; advanced */
    const tr_requant_t *rq;         /*  4: requantisation of the next block's rows; advanced */
    const int16_t *a;               /*  8: input a, padded */
    const int16_t *b;               /* 12: input b, padded (unused when groups_b == 0) */
    int32_t groups_a;               /* 16: TR_PAD4(cols_a) / 4, >= 1 */
    int32_t groups_b;               /* 20: TR_PAD4(cols_b) / 4, >= 0 */
    int32_t *out;                   /* 24: next output row; advanced */
    int32_t blocks;                 /* 28: full blocks left, >= 1; counts down to 0 */
    int32_t act;                    /* 32: TR_ACT_NONE / TR_ACT_SIGMOID / TR_ACT_TANH, or TR_DSP_DUAL */
    const void *aux;                /* 36: activation table at the entry for z = 0 (entry 256); or, for
                                     *     TR_DSP_DUAL, the second requantisation (advanced) */
    int32_t out2_offset;            /* 40: TR_DSP_DUAL: bytes from out[j] to the second output of row j */
} tr_dsp_job_t;
#define TR_DSP_DUAL 3               /* job.act: out[j] from input a only, out2[j] from input b only */

#if TR_SIGMOID_SAT_BITS != 19 || TR_SIGMOID_SEG_BITS != 10 || TR_TANH_SAT_BITS != 18 || TR_TANH_SEG_BITS != 9 \
    || TR_TABLE_SEGMENTS != 512
#error "tr_dsp_blocks hard-codes the table geometry of tr_tables.h: update its activation code"
#endif

/* One group of 4 columns for the 4 rows: LDRD of 4 int16 inputs (r4 = x c0 c1, r5 = x c2 c3), LDM of the
 * 4 rows' weight words (r6..r9, bytes c0 c2 c1 c3), per row SXTB16 (w c0, w c1) and SXTB16 ror 8
 * (w c2, w c3), two SMLAD: 18 instructions for 16 MACs. FIRST starts the sums with SMUAD. */
#define TR_GROUP(MAC0)                                                                  \
    "ldrd   r4, r5, [r12], #8\n\t"                                                       \
    "ldmia  r11!, {r6, r7, r8, r9}\n\t"                                                  \
    "sxtb16 r10, r6\n\t"          MAC0(r0) "sxtb16 r6, r6, ror #8\n\t" "smlad r0, r6, r5, r0\n\t" \
    "sxtb16 r10, r7\n\t"          MAC0(r1) "sxtb16 r7, r7, ror #8\n\t" "smlad r1, r7, r5, r1\n\t" \
    "sxtb16 r10, r8\n\t"          MAC0(r2) "sxtb16 r8, r8, ror #8\n\t" "smlad r2, r8, r5, r2\n\t" \
    "sxtb16 r10, r9\n\t"          MAC0(r3) "sxtb16 r9, r9, ror #8\n\t" "smlad r3, r9, r5, r3\n\t"
#define TR_MAC_FIRST(acc) "smuad  " #acc ", r10, r4\n\t"
#define TR_MAC_NEXT(acc)  "smlad  " #acc ", r10, r4, " #acc "\n\t"

/* All groups of one input (r12 = input, lr = groups >= 1) into r0..r3: the first group peeled, the rest
 * unrolled by 2 (an odd count enters at the second copy). L is a unique label prefix. */
#define TR_SEGMENT(L)                                                                   \
    TR_GROUP(TR_MAC_FIRST)                                                              \
    "subs   lr, lr, #1\n\t"                                                             \
    "beq    " L "_done\n\t"                                                             \
    "tst    lr, #1\n\t"                                                                 \
    "add    lr, lr, #1\n\t"                                                             \
    "lsr    lr, lr, #1\n\t"                                                             \
    "bne    " L "_second\n"                                                             \
    L "_loop:\n\t"                                                                      \
    TR_GROUP(TR_MAC_NEXT)                                                               \
    L "_second:\n\t"                                                                    \
    TR_GROUP(TR_MAC_NEXT)                                                               \
    "subs   lr, lr, #1\n\t"                                                             \
    "bne    " L "_loop\n"                                                               \
    L "_done:\n\t"

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
#define TR_ROWS(ACT) TR_ROW("r0", "0", ACT) TR_ROW("r1", "4", ACT) TR_ROW("r2", "8", ACT) TR_ROW("r3", "12", ACT)

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

/* job->blocks full blocks of 4 rows. Registers in the loops: r0..r3 sums, r4/r5 inputs, r6..r9 weights,
 * r10 temporary, r11 weight pointer, r12 input pointer, lr group count; the job pointer and the 4 sums
 * of input a wait on the stack. */
__attribute__((naked, noinline)) static void tr_dsp_blocks(tr_dsp_job_t *job)
{
    (void)job;                              /* in r0 (AAPCS) */
    __asm__(
        "push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub    sp, sp, #28\n\t"            /* [sp, 0..15] sums of input a, [sp, 16] job */
        "str    r0, [sp, #16]\n\t"
        "ldr    r11, [r0, #0]\n"
        ".Ltr_dsp_block:\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "ldr    r12, [r10, #8]\n\t"
        "ldr    lr, [r10, #16]\n\t"
        TR_SEGMENT(".Ltr_dsp_a")
        "strd   r0, r1, [sp, #0]\n\t"
        "strd   r2, r3, [sp, #8]\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "ldr    lr, [r10, #20]\n\t"
        "cmp    lr, #0\n\t"
        "beq    .Ltr_dsp_no_b\n\t"
        "ldr    r12, [r10, #12]\n\t"
        TR_SEGMENT(".Ltr_dsp_b")
        "b      .Ltr_dsp_requant\n"
        ".Ltr_dsp_no_b:\n\t"
        "movs   r0, #0\n\t"
        "movs   r1, #0\n\t"
        "movs   r2, #0\n\t"
        "movs   r3, #0\n"
        ".Ltr_dsp_requant:\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "ldr    r12, [r10, #4]\n\t"
        "ldr    lr, [r10, #24]\n\t"
        "ldr    r4, [r10, #32]\n\t"
        "ldr    r9, [r10, #36]\n\t"
        "add    r10, r9, #2\n\t"
        "cmp    r4, #1\n\t"
        "beq    .Ltr_dsp_sigmoid\n\t"
        "cmp    r4, #2\n\t"
        "beq    .Ltr_dsp_tanh\n\t"
        "bhi    .Ltr_dsp_dual\n\t"
        TR_ROWS("")
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_sigmoid:\n\t"
        TR_ROWS(TR_ACT_SIGMOID_CODE)
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_tanh:\n\t"
        TR_ROWS(TR_ACT_TANH_CODE)
        "b      .Ltr_dsp_block_end\n"
        ".Ltr_dsp_dual:\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "ldr    r10, [r10, #40]\n\t"
        TR_DUAL_ROW("r0", "0") TR_DUAL_ROW("r1", "4") TR_DUAL_ROW("r2", "8") TR_DUAL_ROW("r3", "12")
        "ldr    r10, [sp, #16]\n\t"
        "str    r9, [r10, #36]\n"
        ".Ltr_dsp_block_end:\n\t"
        "ldr    r10, [sp, #16]\n\t"
        "str    r12, [r10, #4]\n\t"
        "str    lr, [r10, #24]\n\t"
        "ldr    r4, [r10, #28]\n\t"
        "subs   r4, r4, #1\n\t"
        "str    r4, [r10, #28]\n\t"
        "bne    .Ltr_dsp_block\n\t"
        "str    r11, [r10, #0]\n\t"
        "add    sp, sp, #28\n\t"
        "pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");
}
#endif

/* Apply activation `act` in place to n values (the rows the plain-C path requantised). */
static void activate(int32_t *z, int n, int act)
{
    if (act == TR_ACT_SIGMOID) {
        tr_sigmoid_q15(z, n);
    } else if (act == TR_ACT_TANH) {
        tr_tanh_q15(z, n);
    }
}

/* The product of `dense` with out[j] = act(row j), or with rq2 != NULL both sums kept apart:
 * out[j] = (bias + acc_a * mult_a + acc_b * mult_b) >> 32 and out2[j] = (rq2 bias + acc_b * rq2 mult_a) >> 32. */
static void matvec(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                   int32_t *out, int32_t *out2, int act)
{
    const int groups_a = TR_PAD4(dense->cols_a) / 4;
    const int groups_b = TR_PAD4(dense->cols_b) / 4;
    const int8_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int32_t *out_c = out;
    int row = 0, r;

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
        job.aux = rq2 != NULL ? (const void *)rq2
                  : act == TR_ACT_TANH ? (const void *)(tr_tanh_table + TR_TABLE_SEGMENTS / 2)
                                       : (const void *)(tr_sigmoid_table + TR_TABLE_SEGMENTS / 2);
        job.out2_offset = rq2 != NULL ? (int32_t)((char *)out2 - (char *)out) : 0;
        tr_dsp_blocks(&job);
        row = dense->rows - dense->rows % TR_ROW_BLOCK;
        w = job.w;
        rq = job.rq;
        out_c = job.out;
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
    activate(out_c, (int)(out + dense->rows - out_c), act);
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
