/*
 * The Cortex-M0/M0+ (Thumb-1) path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout and the
 * C path). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 4 rows (both inputs and the requantisation; the activation stays in C) in one assembly
 * routine, tr_m0_blocks. GCC's code spills the 11 live values of dot_block_c out of the 8 low registers and
 * calls the 64 x 64 multiply helper twice per row. The same integers:
 *  - sums, grouped by 2 columns: per pair and word W = (h0, h1) (LDR), S2 = h0 x0 + h1 x1 and
 *    A2 = w_A0 x0 + w_A1 x1, then acc_A += A2 and acc_B += (S2 - A2) >> 8. Exact in int32:
 *    |S2| <= 2 * 32639 * 32768 < 2^31 and S2 - A2 = 256 (w_B0 x0 + w_B1 x1), |w_B0 x0 + w_B1 x1| <= 2 * 127 *
 *    32768 < 2^23 (a third column would not fit). 15 instructions for 4 MACs; the 2 inputs of a half group
 *    (LDR, SXTH, ASRS) serve both pairs;
 *  - requantisation, (bias + acc_a mult_a + acc_b mult_b) >> 32: each product from 16-bit halves,
 *    a = 2^16 ah + al (al = a & 0xFFFF): al bl (unsigned, < 2^32), ah bl and al bh (signed, |.| < 2^31), ah bh
 *    (<= 2^30) each fit one MULS, added into the 64-bit sum with ADDS/ADCS (22 instructions a product); a zero
 *    multiplier skips its product, as in tr_requant_q14.
 * The job (tr_m0_job_t) and its field offsets: tr_m0_job.h. Other targets compile this file to nothing.
 */
#include "../tr_fast.h"

#if TR_FAST_PATH_ARMV6M

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
/* Field f of the requantisation entry of row k, from r7 = the block's first entry. */
#define TR_M0_RQ(k, f) "#(" k " * " TR_STR(TR_REQUANT_SIZE) " + " TR_STR(f) ")"
/* Row k of the block: r1 = the high word of bias + acc_a mult_a + acc_b mult_b (sums at sp + 4 k and
 * sp + 16 + 4 k), stored to out[k]. */
#define TR_M0_ROW(k)                                                                    \
    "ldr    r0, [r7, " TR_M0_RQ(k, TR_REQUANT_BIAS_LO) "]\n\t"                          \
    "ldr    r1, [r7, " TR_M0_RQ(k, TR_REQUANT_BIAS_HI) "]\n\t"                          \
    "ldr    r3, [r7, " TR_M0_RQ(k, TR_REQUANT_MULT_A) "]\n\t"                           \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    1f\n\t"                                                                     \
    "ldr    r2, [sp, #(4 * " k ")]\n\t"                                                 \
    TR_M0_MAC64                                                                         \
    "1:\n\t"                                                                            \
    "ldr    r3, [r7, " TR_M0_RQ(k, TR_REQUANT_MULT_B) "]\n\t"                           \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    2f\n\t"                                                                     \
    "ldr    r2, [sp, #(16 + 4 * " k ")]\n\t"                                            \
    TR_M0_MAC64                                                                         \
    "2:\n\t"                                                                            \
    "ldr    r4, [sp, #36]\n\t"          /* out */                                       \
    "str    r1, [r4, #(4 * " k ")]\n\t"
/* Second output of row k (job->rq2, entries from r7): the high word of bias2 + acc_b mult_a2, stored to
 * out2[k]. */
#define TR_M0_ROW2(k)                                                                   \
    "ldr    r0, [r7, " TR_M0_RQ(k, TR_REQUANT_BIAS_LO) "]\n\t"                          \
    "ldr    r1, [r7, " TR_M0_RQ(k, TR_REQUANT_BIAS_HI) "]\n\t"                          \
    "ldr    r3, [r7, " TR_M0_RQ(k, TR_REQUANT_MULT_A) "]\n\t"                           \
    "cmp    r3, #0\n\t"                                                                 \
    "beq    1f\n\t"                                                                     \
    "ldr    r2, [sp, #(16 + 4 * " k ")]\n\t"                                            \
    TR_M0_MAC64                                                                         \
    "1:\n\t"                                                                            \
    "ldr    r4, [sp, #40]\n\t"          /* out2 */                                      \
    "str    r1, [r4, #(4 * " k ")]\n\t"

/* Frame (sp offsets): 0..15 the 4 row sums of input a, 16..31 of input b, 32 job, 36 out, 40 out2 (both
 * advanced per block). The sums: local subroutine .Ltr_m0_sums (r0 weights, r1 input, r2 groups >= 1 ->
 * r8..r11 the sums of rows 0..3, r0 advanced; r12 the input end), called with BL. */
__attribute__((naked, noinline)) void tr_m0_blocks(tr_m0_job_t *job)
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
        "ldr    r1, [r0, #" TR_STR(TR_M0_JOB_OUT) "]\n\t"
        "str    r1, [sp, #36]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_M0_JOB_OUT2) "]\n\t"
        "str    r1, [sp, #40]\n"
        ".Ltr_m0_block:\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "ldr    r0, [r7, #" TR_STR(TR_M0_JOB_W) "]\n\t"
        "ldr    r1, [r7, #" TR_STR(TR_M0_JOB_A) "]\n\t"
        "ldr    r2, [r7, #" TR_STR(TR_M0_JOB_GROUPS_A) "]\n\t"
        "bl     .Ltr_m0_sums\n\t"
        "mov    r3, r8\n\t"
        "mov    r4, r9\n\t"
        "mov    r5, r10\n\t"
        "mov    r6, r11\n\t"
        "mov    r1, sp\n\t"
        "stmia  r1!, {r3, r4, r5, r6}\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "ldr    r2, [r7, #" TR_STR(TR_M0_JOB_GROUPS_B) "]\n\t"
        "movs   r3, #0\n\t"                 /* no input b: zero sums */
        "movs   r4, #0\n\t"
        "movs   r5, #0\n\t"
        "movs   r6, #0\n\t"
        "cmp    r2, #0\n\t"
        "beq    .Ltr_m0_b_done\n\t"
        "ldr    r1, [r7, #" TR_STR(TR_M0_JOB_B) "]\n\t"
        "bl     .Ltr_m0_sums\n\t"
        "mov    r3, r8\n\t"
        "mov    r4, r9\n\t"
        "mov    r5, r10\n\t"
        "mov    r6, r11\n"
        ".Ltr_m0_b_done:\n\t"
        "add    r1, sp, #16\n\t"
        "stmia  r1!, {r3, r4, r5, r6}\n\t"
        "ldr    r7, [sp, #32]\n\t"
        "str    r0, [r7, #" TR_STR(TR_M0_JOB_W) "]\n\t"
        "ldr    r7, [r7, #" TR_STR(TR_M0_JOB_RQ) "]\n\t"
        TR_M0_ROW("0") TR_M0_ROW("1") TR_M0_ROW("2") TR_M0_ROW("3")
        "adds   r7, #(4 * " TR_STR(TR_REQUANT_SIZE) ")\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "str    r7, [r4, #" TR_STR(TR_M0_JOB_RQ) "]\n\t"
        "ldr    r5, [sp, #36]\n\t"
        "adds   r5, #16\n\t"                /* 4 outputs */
        "str    r5, [sp, #36]\n\t"
        "ldr    r7, [r4, #" TR_STR(TR_M0_JOB_RQ2) "]\n\t"
        "cmp    r7, #0\n\t"
        "bne    .Ltr_m0_dual\n\t"
        "b      .Ltr_m0_block_end\n"        /* (conditional branches reach +-256 bytes) */
        ".Ltr_m0_dual:\n\t"
        TR_M0_ROW2("0") TR_M0_ROW2("1") TR_M0_ROW2("2") TR_M0_ROW2("3")
        "adds   r7, #(4 * " TR_STR(TR_REQUANT_SIZE) ")\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "str    r7, [r4, #" TR_STR(TR_M0_JOB_RQ2) "]\n\t"
        "ldr    r5, [sp, #40]\n\t"
        "adds   r5, #16\n\t"                /* 4 outputs */
        "str    r5, [sp, #40]\n"
        ".Ltr_m0_block_end:\n\t"
        "ldr    r4, [sp, #32]\n\t"
        "ldr    r5, [r4, #" TR_STR(TR_M0_JOB_BLOCKS) "]\n\t"
        "subs   r5, #1\n\t"
        "str    r5, [r4, #" TR_STR(TR_M0_JOB_BLOCKS) "]\n\t"
        "beq    .Ltr_m0_end\n\t"
        "b      .Ltr_m0_block\n"
        ".Ltr_m0_end:\n\t"
        "ldr    r5, [sp, #36]\n\t"
        "str    r5, [r4, #" TR_STR(TR_M0_JOB_OUT) "]\n\t"
        "ldr    r5, [sp, #40]\n\t"
        "str    r5, [r4, #" TR_STR(TR_M0_JOB_OUT2) "]\n\t"
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
#endif /* TR_FAST_PATH_ARMV6M */
