/*
 * The Cortex-M4/M7/M33 (DSP extension) path of tr_matvec_s16_s8 (tr_matvec_s16_s8.c has the weight layout,
 * the SMLALD/SXTB16 reading of it, and the C path). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 4 rows (both inputs, the requantisation and the optional activation) in one assembly
 * routine, tr_dsp_blocks. The job (tr_dsp_job_t) and its field offsets: tr_matvec_job.h. Other targets
 * compile this file to nothing.
 */
#include "tr_matvec_job.h"
#include "tr_tables.h"

#if TR_MATVEC_DSP

#if TR_SIGMOID_SAT_BITS != 19 || TR_SIGMOID_SEG_BITS != 10 || TR_TANH_SAT_BITS != 18 || TR_TANH_SEG_BITS != 9 \
    || TR_TABLE_SEGMENTS != 512
#error "tr_dsp_blocks hard-codes the table geometry of tr_tables.h: update its activation code"
#endif
#define TR_TANH_ROUND 256           /* 2^(TR_TANH_SEG_BITS - 1) */

#if TR_ACT_NONE != 0 || TR_ACT_SIGMOID != 1 || TR_ACT_TANH != 2 || TR_DSP_DUAL != 3 || TR_DSP_LSTM != 4 \
    || TR_DSP_GRU != 5
#error "tr_dsp_blocks dispatches on job.act through .Ltr_dsp_act_table: reorder the table with the numbering"
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
    TR_SEGMENT_LOOP(L)                                                                  \
    L "_done:\n\t"                                                                      \
    "lsr    r1, r1, #8\n\t"                                                             \
    "orr    r1, r1, r2, lsl #24\n\t"                                                    \
    "sub    r1, r1, r0, asr #8\n\t"                                                     \
    "lsr    r6, r6, #8\n\t"                                                             \
    "orr    r6, r6, r7, lsl #24\n\t"                                                    \
    "sub    r2, r6, r3, asr #8\n\t"
/* The loop over the groups after the first, unrolled by 4 (entered at copy (-(groups - 1)) & 3). */
#define TR_SEGMENT_LOOP(L)                                                              \
    L "_g0:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g1:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g2:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    L "_g3:\n\t"                                                                        \
    TR_GROUP(TR_WORD0_NEXT)                                                             \
    "subs   lr, lr, #1\n\t"                                                             \
    "bne    " L "_g0\n"
/* The last group of input a when only its first 2 columns are real (cols_a % 4 in 1..2, job->a_half): the
 * word (c0, c1) of the input and of each pair, 9 instructions instead of 15 (the zero weights of c2, c3 are
 * stepped over). A second copy of segment a's loop ends in it (.Ltr_dsp_ah), then rejoins segment a's end. */
#define TR_HALF_GROUP                                                                   \
    "ldr    r4, [r12]\n\t"                                                              \
    "ldr    r8, [r11], #8\n\t"                 /* pair P, c0 c1 (c2 c3 skipped) */      \
    "ldr    r9, [r11], #8\n\t"                 /* pair Q, c0 c1 */                      \
    "smlald r1, r2, r8, r4\n\t"                                                         \
    "sxtb16 r8, r8\n\t"                                                                 \
    "smlad  r0, r8, r4, r0\n\t"                                                         \
    "smlald r6, r7, r9, r4\n\t"                                                         \
    "sxtb16 r9, r9\n\t"                                                                 \
    "smlad  r3, r9, r4, r3\n\t"
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
 * range, r9 points at the segment word for z = 0 (tr_*_seg: start T[i] in the low halfword, rise in the high
 * one), so the signed segment index needs no offset; r10 holds the rounding constant 2^(fb-1);
 * y = T[i] + (rise * frac + 2^(fb-1)) >> fb (SMLATB: rise and frac < 2^fb are signed halfwords). Uses r4, r6, r7. */
#define TR_ACT_CODE_WITH(sat, fb, table, round)                                         \
    "ssat   r5, #" sat ", r5\n\t"                                                       \
    "asr    r6, r5, #" fb "\n\t"                                                        \
    "ldr    r7, [" table ", r6, lsl #2]\n\t"                                            \
    "ubfx   r4, r5, #0, #" fb "\n\t"                                                    \
    "smlatb r6, r7, r4, " round "\n\t"                                                  \
    "sxth   r7, r7\n\t"                                                                 \
    "add    r5, r7, r6, asr #" fb "\n\t"
#define TR_ACT_CODE(sat, fb) TR_ACT_CODE_WITH(sat, fb, "r9", "r10")
#define TR_ACT_SIGMOID_CODE TR_ACT_CODE("19", "10")
#define TR_ACT_TANH_CODE TR_ACT_CODE("18", "9")

/* Row k of the block: (bias + acc_a * mult_a + acc_b * mult_b) >> 32 with two SMLAL (acc_a from the
 * stack, acc_b in a register), the activation, one store. r12 walks the requant entries, lr the outputs;
 * LDMIA takes a whole entry in the order of TR_REQUANT_*: r4:r5 bias, r6 mult_a, r7 mult_b. */
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
    "ldr    r8, [r9, #" TR_STR(TR_REQUANT_MULT_A) "]\n\t"                               \
    "ldrd   r6, r7, [r9], #" TR_STR(TR_REQUANT_SIZE) "\n\t" /* bias (at 0), then next entry */ \
    "smlal  r6, r7, " acc_b ", r8\n\t"                                                  \
    "str    r7, [lr, r10]\n\t"                                                          \
    "str    r5, [lr], #4\n\t"

/* TR_DSP_GRU row k: n = (bias + acc_a * mult_a) >> 32 and c = (bias2 + acc_b * mult_a2) >> 32 as in
 * TR_DUAL_ROW (acc_a and acc_b both from the frame), then the cell update of tr_gru_step kept in registers:
 * pre = n + round_shift(r c, 15) (tr_add_gate_mul_q15: LSL, AND, ADD, SMMLAR), nj = tanh(pre) (table r3,
 * rounding r10), h' = ssat16(nj + ((z (h - nj) + 2^14) >> 15)) (r11 = 2^14), stored as int16 at lr.
 * r0 walks z, r1 = bytes from z[j] to r[j], r2 = bytes from the new h[j] to the old one. */
#define TR_GRU_ROW(acc_a_offset, acc_b_offset)                                          \
    "ldmia  r12!, {r4, r5, r6, r7}\n\t"                                                 \
    "ldr    r8, [sp, #" acc_a_offset "]\n\t"                                            \
    "smlal  r4, r5, r8, r6\n\t"                  /* r5 = n */                            \
    "ldmia  r9!, {r4, r6, r7, r8}\n\t"           /* bias2 (r4:r6), mult_a2, mult_b2 (unused) */ \
    "ldr    r8, [sp, #" acc_b_offset "]\n\t"                                            \
    "smlal  r4, r6, r8, r7\n\t"                  /* r6 = c */                            \
    "ldr    r4, [r0, r1]\n\t"                    /* r */                                 \
    "lsl    r4, r4, #17\n\t"                                                            \
    "and    r7, r6, r4, asr #31\n\t"                                                    \
    "add    r7, r7, r5\n\t"                                                             \
    "smmlar r5, r6, r4, r7\n\t"                  /* r5 = pre */                          \
    TR_ACT_CODE_WITH("18", "9", "r3", "r10")       /* r5 = nj */                           \
    "ldr    r6, [r0], #4\n\t"                    /* z */                                 \
    "ldrsh  r4, [lr, r2]\n\t"                    /* h */                                 \
    "sub    r4, r4, r5\n\t"                                                             \
    "mla    r4, r6, r4, r11\n\t"                                                        \
    "add    r5, r5, r4, asr #15\n\t"                                                    \
    "ssat   r5, #16, r5\n\t"                                                            \
    "strh   r5, [lr], #2\n\t"

/* job->blocks full blocks of 4 rows. Registers in the loops: r0..r3, r6, r7 sums (TR_GROUP), r4/r5 inputs, r8/r9
 * weights, r11 weight pointer, r12 input pointer, lr loop count. The prologue copies the job into the
 * routine's frame, with every per-call decision made once: the loop count and entry of each input segment
 * and the address of the requantisation code (by job->act), so a block reads its set-up with LDRD and
 * dispatches with LDR PC. Frame (sp offsets):
 *    0..15: the 4 sums of input a         16: job
 *   20, 24, 28: input a, loop count, entry
 *   32, 36, 40, 44: input b, loop count, start (segment b, or zero sums when groups_b == 0), entry
 *   48, 52: requantisation entries, outputs (advanced)
 *   56, 60: segment table word for z = 0 and the rounding constant (TR_DSP_DUAL: second requantisation,
 *           advanced, and the offset of out2)
 *   64: requantisation code     68: blocks left     72, 76: lstm_o_blocks, lstm_g_blocks     80: tanh_mid
 *   TR_DSP_GRU: 84 weight pointer while the rows run, 88..100 the 4 sums of input b, 104 z (advanced),
 *   108 gru_r_offset, 112 gru_h_offset. After the last block, job->gru_copy blocks of the new h (8 bytes
 *   each) are copied from job->out over the old h. */
__attribute__((naked, noinline)) void tr_dsp_blocks(tr_dsp_job_t *job)
{
    (void)job;                              /* in r0 (AAPCS) */
    __asm__(
        "push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub    sp, sp, #116\n\t"
        "str    r0, [sp, #16]\n\t"
        "ldr    r11, [r0, #" TR_STR(TR_DSP_JOB_W) "]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_RQ) "]\n\t"
        "ldr    r2, [r0, #" TR_STR(TR_DSP_JOB_OUT) "]\n\t"
        "strd   r1, r2, [sp, #48]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_AUX) "]\n\t"
        "ldr    r2, [r0, #" TR_STR(TR_DSP_JOB_AUX2) "]\n\t"
        "ldr    r3, [r0, #" TR_STR(TR_DSP_JOB_ACT) "]\n\t"
        "strd   r1, r2, [sp, #56]\n\t"
        "adr    r2, .Ltr_dsp_act_table\n\t"
        "ldr    r2, [r2, r3, lsl #2]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_BLOCKS) "]\n\t"
        "strd   r2, r1, [sp, #64]\n\t"
        "ldrd   r1, r2, [r0, #" TR_STR(TR_DSP_JOB_LSTM_O_BLOCKS) "]\n\t"
        "strd   r1, r2, [sp, #72]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_TANH_MID) "]\n\t"
        "str    r1, [sp, #80]\n\t"
        "cmp    r3, #" TR_STR(TR_DSP_GRU) "\n\t"
        "bne    .Ltr_dsp_not_gru\n\t"
        "ldrd   r1, r2, [r0, #" TR_STR(TR_DSP_JOB_GRU_Z) "]\n\t"
        "strd   r1, r2, [sp, #104]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_GRU_H_OFFSET) "]\n\t"
        "str    r1, [sp, #112]\n"
        ".Ltr_dsp_not_gru:\n\t"
        "ldr    r2, [r0, #" TR_STR(TR_DSP_JOB_GROUPS_A) "]\n\t"
        "ldr    r3, [r0, #" TR_STR(TR_DSP_JOB_A_HALF) "]\n\t"
        "cbz    r3, .Ltr_dsp_a_full\n\t"
        "sub    r2, r2, #1\n\t"                  /* the last group is the half group */
        "adr    r3, .Ltr_dsp_ah_table\n\t"
        "b      .Ltr_dsp_a_setup\n"
        ".Ltr_dsp_a_full:\n\t"
        "adr    r3, .Ltr_dsp_a_table\n"
        ".Ltr_dsp_a_setup:\n\t"
        TR_SEGMENT_SETUP
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_A) "]\n\t"
        "str    r1, [sp, #20]\n\t"
        "strd   r4, r5, [sp, #24]\n\t"
        "adr    r3, .Ltr_dsp_b_table\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_B) "]\n\t"
        "ldr    r2, [r0, #" TR_STR(TR_DSP_JOB_GROUPS_B) "]\n\t"
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
        ".Ltr_dsp_gru:\n\t"
        "str    r11, [sp, #84]\n\t"
        "strd   r0, r1, [sp, #88]\n\t"          /* sums of input b, rows 0..3 */
        "strd   r3, r2, [sp, #96]\n\t"
        "ldrd   r0, r1, [sp, #104]\n\t"
        "ldr    r2, [sp, #112]\n\t"
        "ldr    r3, [sp, #80]\n\t"
        "mov    r10, #" TR_STR(TR_TANH_ROUND) "\n\t"
        "mov    r11, #16384\n\t"
        TR_GRU_ROW("0", "88") TR_GRU_ROW("4", "92") TR_GRU_ROW("8", "96") TR_GRU_ROW("12", "100")
        "str    r0, [sp, #104]\n\t"
        "str    r9, [sp, #56]\n\t"
        "ldr    r11, [sp, #84]\n\t"
        "b      .Ltr_dsp_block_end\n"
        TR_SEGMENT_LOOP(".Ltr_dsp_ah")
        ".Ltr_dsp_ah_done:\n\t"
        TR_HALF_GROUP
        "b      .Ltr_dsp_a_done\n"
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
        "mov    r10, #" TR_STR(TR_TANH_ROUND) "\n\t"
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
        "str    r11, [r10, #" TR_STR(TR_DSP_JOB_W) "]\n\t"
        "str    r12, [r10, #" TR_STR(TR_DSP_JOB_RQ) "]\n\t"
        "ldr    r2, [r10, #" TR_STR(TR_DSP_JOB_GRU_COPY) "]\n\t"
        "cbz    r2, .Ltr_dsp_return\n\t"
        "ldr    r0, [r10, #" TR_STR(TR_DSP_JOB_OUT) "]\n\t"  /* TR_DSP_GRU: the new h over the old one */
        "ldr    r1, [r10, #" TR_STR(TR_DSP_JOB_GRU_H_OFFSET) "]\n\t"
        "add    r1, r1, r0\n"
        ".Ltr_dsp_copy_h:\n\t"                  /* 4 units (8 bytes) per block */
        "ldrd   r4, r5, [r0], #8\n\t"
        "strd   r4, r5, [r1], #8\n\t"
        "subs   r2, r2, #1\n\t"
        "bne    .Ltr_dsp_copy_h\n"
        ".Ltr_dsp_return:\n\t"
        "add    sp, sp, #116\n\t"
        "pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".align 2\n"
        ".Ltr_dsp_act_table:\n\t"          /* by job->act: TR_ACT_NONE, SIGMOID, TANH, TR_DSP_DUAL, TR_DSP_LSTM, TR_DSP_GRU */
        ".word  .Ltr_dsp_none + 1, .Ltr_dsp_sigmoid + 1, .Ltr_dsp_tanh + 1, .Ltr_dsp_dual + 1, .Ltr_dsp_lstm + 1\n\t"
        ".word  .Ltr_dsp_gru + 1\n"
        ".Ltr_dsp_a_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_a")
        ".Ltr_dsp_ah_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_ah")
        ".Ltr_dsp_b_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_b")
        ".word  .Ltr_dsp_b_start + 1, .Ltr_dsp_no_b + 1\n\t");
}
#endif /* TR_MATVEC_DSP */
