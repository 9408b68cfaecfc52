/*
 * The Cortex-M4/M7/M33 (DSP extension) path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout,
 * the SMLALD/SXTB16 reading of it, and the C path). Twin: quantize/twin/params.py Dense.product, and for the
 * cell updates quantize/twin/cells.py tr_gru_step, tr_lstm_step.
 *
 * Every full block of 4 rows (both inputs, the requantisation and the optional activation or cell update) in
 * one assembly routine, tr_dsp_blocks, which runs a list of jobs: tr_matvec_s16_s8.c gives it one product, or
 * a whole layer step and the head's product (tr_dsp_layer_step). The job (tr_dsp_job_t) and its field offsets:
 * tr_dsp_job.h. Other targets compile this file to nothing.
 */
#include "../tr_fast.h"

#if TR_FAST_PATH_ARM_DSP

#if TR_SIGMOID_SAT_BITS != 19 || TR_SIGMOID_SEG_BITS != 10 || TR_TANH_SAT_BITS != 18 || TR_TANH_SEG_BITS != 9 \
    || TR_TABLE_SEGMENTS != 512
#error "tr_dsp_blocks hard-codes the table geometry of tr_tables.h: update its activation code"
#endif
#define TR_TANH_ROUND (1 << (TR_TANH_SEG_BITS - 1))

#if TR_DSP_MODE_PRODUCT != 0 || TR_DSP_MODE_SIGMOID != 1 || TR_DSP_MODE_TANH != 2 || TR_DSP_MODE_GRU != 3 \
    || TR_DSP_MODE_A_ONLY != 4 || TR_DSP_MODE_LSTM != 5
#error "tr_dsp_blocks dispatches on job.mode through .Ltr_dsp_rows_table: reorder the table with the numbering"
#endif

/* The routine's frame (sp offsets). The first words are the row code's (loaded with one LDM per block; rq and
 * out at the same place for every mode), then the sums of input a (and b, TR_DSP_MODE_GRU), the segments' set-up,
 * and the job list. LDM and STM take registers in ascending order from ascending addresses: the order of the
 * words below is that of the registers the row code loads them into. */
#define F_ROW0 0                    /* job.rows first word: round, or z (TR_DSP_MODE_GRU: advanced) */
#define F_ROW1 4                    /* job.rows second word: table, or rq2 (TR_DSP_MODE_GRU: advanced) */
#define F_RQ 8                      /* requantisation of the next block (advanced) */
#define F_OUT 12                    /* output of the next block (advanced) */
#define F_GRU 16                    /* TR_DSP_MODE_GRU, 5 words (LDM after F_OUT): bytes from z[j] to r[j], bytes from
                                     * the new h[j] to the old one, the tanh table, 2^(TR_TANH_SEG_BITS - 1), 2^14 */
#define F_LSTM 16                   /* TR_DSP_MODE_LSTM, 6 words (LDM): the i gate of the next unit (advanced), bytes
                                     * from i[j] to f[j] (and half those to g[j]), c of the next unit (advanced),
                                     * the next new h (advanced), the tanh table, 2^14 */
#define F_ACC_A 40                  /* 4 words: the sums of input a, rows 0..3 */
#define F_ACC_B 56                  /* 4 words: TR_DSP_MODE_GRU, the sums of input b */
#define F_A 72                      /* segment a: input, loop count (LDRD), entry */
#define F_B 84                      /* segment b: input, loop count (LDRD), entry */
#define F_ROW_CODE 96               /* the job's row code (by mode) */
#define F_SAVE 100                  /* TR_DSP_MODE_GRU, _LSTM: block counter and weight pointer while the cell
                                     * update runs (STRD) */
#define F_JOB 108                   /* the job, jobs left including it (STRD) */
#define F_SIZE 116
#define TR_GRU_ROUND 16384          /* 2^14: the rounding of (z (h - n) + 2^14) >> 15 and (o t + 2^14) >> 15 */

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

/* The start of a segment: r12 = the input, lr = the loop count from the frame (at SEG), the first group (it
 * starts the sums), then the rest of the groups from the entry the prologue chose (at SEG + 8): the loop
 * (TR_SEGMENT_LOOP, TR_SEGMENT_LOOP8) entered part-way, or its end when groups == 1. */
#define TR_SEGMENT_START(SEG)                                                           \
    "ldrd   r12, lr, [sp, #" TR_STR(SEG) "]\n\t"                                        \
    TR_GROUP(TR_WORD0_FIRST)                                                            \
    "ldr    pc, [sp, #" TR_STR(SEG) " + 8]\n"
/* Group i of a loop pass, labelled as an entry: L "_g<i>". */
#define TR_LOOP_GROUP(L, i)                                                             \
    L "_g" #i ":\n\t"                                                                   \
    TR_GROUP(TR_WORD0_NEXT)
/* The loop over the groups after the first, unrolled by 4 (segment a: inputs x are small) or 8 (segment b: the
 * 7 groups after the first of h = 32 take one pass, 2 instructions of loop control per block instead of 4).
 * L is a unique label prefix. */
#define TR_SEGMENT_LOOP(L)                                                              \
    TR_LOOP_GROUP(L, 0) TR_LOOP_GROUP(L, 1) TR_LOOP_GROUP(L, 2) TR_LOOP_GROUP(L, 3)     \
    "subs   lr, lr, #1\n\t"                                                             \
    "bne    " L "_g0\n"
#define TR_SEGMENT_LOOP8(L)                                                             \
    TR_LOOP_GROUP(L, 0) TR_LOOP_GROUP(L, 1) TR_LOOP_GROUP(L, 2) TR_LOOP_GROUP(L, 3)     \
    TR_LOOP_GROUP(L, 4) TR_LOOP_GROUP(L, 5) TR_LOOP_GROUP(L, 6) TR_LOOP_GROUP(L, 7)     \
    "subs   lr, lr, #1\n\t"                                                             \
    "bne    " L "_g0\n"
/* The end of a segment: the sums of the 4 rows into r0 (row 0), r1 (row 1), r3 (row 2), r2 (row 3), with
 * acc_B = (S >> 8) - (acc_A >> 8) per pair (the low word of S >> 8 is lo >> 8 | hi << 24; the result fits
 * int32). */
#define TR_SEGMENT_END                                                                  \
    "lsr    r1, r1, #8\n\t"                                                             \
    "orr    r1, r1, r2, lsl #24\n\t"                                                    \
    "sub    r1, r1, r0, asr #8\n\t"                                                     \
    "lsr    r6, r6, #8\n\t"                                                             \
    "orr    r6, r6, r7, lsl #24\n\t"                                                    \
    "sub    r2, r6, r3, asr #8\n\t"
/* The last group of input a when only its first 2 columns are real (cols_a % 4 in 1..2, groups_a >= 2): the
 * word (c0, c1) of the input and of each pair, 9 instructions instead of 15 (the zero weights of c2, c3 are
 * stepped over). A second copy of segment a's loop ends in it. */
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
/* After segment a: its sums to the frame (segment b needs every register but r10). */
#define TR_AFTER_A                                                                      \
    TR_SEGMENT_END                                                                      \
    "strd   r0, r1, [sp, #" TR_STR(F_ACC_A) "]\n\t"                                     \
    "strd   r3, r2, [sp, #" TR_STR(F_ACC_A) " + 8]\n\t"
/* The entry table of a segment: the loop copies, then the end (groups == 1); Thumb addresses (bit 0 set)
 * for LDR PC. */
#define TR_SEGMENT_TABLE(L)                                                             \
    ".word  " L "_g0 + 1, " L "_g1 + 1, " L "_g2 + 1, " L "_g3 + 1, " L "_done + 1\n"
#define TR_SEGMENT_TABLE_BYTES 20
#define TR_SEGMENT_TABLE8(L)                                                            \
    ".word  " L "_g0 + 1, " L "_g1 + 1, " L "_g2 + 1, " L "_g3 + 1\n\t"                   \
    ".word  " L "_g4 + 1, " L "_g5 + 1, " L "_g6 + 1, " L "_g7 + 1, " L "_done + 1\n"
/* Once per job: r9 = groups - 1 >= 0, r3 = the segment's entry table -> r4 = loop count
 * ceil((groups - 1) / UNROLL), r5 = entry address (copy -(groups - 1) & (UNROLL - 1), or the end). */
#define TR_SEGMENT_SETUP(UNROLL, LOG2)                                                  \
    "add    r4, r9, #" UNROLL " - 1\n\t"                                                \
    "lsr    r4, r4, #" LOG2 "\n\t"                                                      \
    "rsbs   r5, r9, #0\n\t"                                                             \
    "and    r5, r5, #" UNROLL " - 1\n\t"                                                \
    "it     eq\n\t"                                                                     \
    "moveq  r5, #" UNROLL "\n\t"                                                        \
    "ldr    r5, [r3, r5, lsl #2]\n\t"

/* Table activation of z in r5 (Q14 -> Q15, docs/quantization.md "Activations"): SSAT clamps to the table
 * range, `table` points at the segment word for z = 0 (tr_*_seg: start T[i] in the low halfword, rise in the
 * high one), so the signed segment index needs no offset; `round` holds the rounding constant 2^(fb-1);
 * y = T[i] + (rise * frac + 2^(fb-1)) >> fb (SMLATB: rise and frac < 2^fb are signed halfwords). Uses r4, r6, r7. */
#define TR_ACT_CODE_WITH(sat, fb, table, round, out)                                    \
    "ssat   r5, #" sat ", r5\n\t"                                                       \
    "asr    r6, r5, #" fb "\n\t"                                                        \
    "ldr    r7, [" table ", r6, lsl #2]\n\t"                                            \
    "ubfx   r4, r5, #0, #" fb "\n\t"                                                    \
    "smlatb r6, r7, r4, " round "\n\t"                                                  \
    "sxth   r7, r7\n\t"                                                                 \
    "add    " out ", r7, r6, asr #" fb "\n\t"
#define TR_ACT_SIGMOID_CODE(out) TR_ACT_CODE_WITH("19", "10", "r9", "r8", out)
#define TR_ACT_TANH_CODE(out) TR_ACT_CODE_WITH("18", "9", "r9", "r8", out)

/* Row k of the block: (bias + acc_b * mult_b + acc_a * mult_a) >> 32 with two SMLAL (acc_b in a register,
 * which then takes acc_a from the frame: that keeps r8 free for the rounding constant, and r10 for the block
 * counter). r12 walks the requant entries; LDMIA takes a whole entry in the order of TR_REQUANT_*: r4:r5 bias,
 * r6 mult_a, r7 mult_b. */
#define TR_ROW_SUM(acc, k)                                                              \
    "ldmia  r12!, {r4, r5, r6, r7}\n\t"                                                 \
    "smlal  r4, r5, " acc ", r7\n\t"                                                    \
    "ldr    " acc ", [sp, #" TR_STR(F_ACC_A) " + " k "]\n\t"                            \
    "smlal  r4, r5, " acc ", r6\n\t"
/* The 4 rows with an activation (ACT(out)): each row's result goes to the register of its sums, and lr takes
 * them two by two. */
#define TR_ROWS_ACT(ACT)                                                                \
    TR_ROW_SUM("r0", "0") ACT("r0")                                                     \
    TR_ROW_SUM("r1", "4") ACT("r1")                                                     \
    "strd   r0, r1, [lr], #8\n\t"                                                       \
    TR_ROW_SUM("r3", "8") ACT("r3")                                                     \
    TR_ROW_SUM("r2", "12") ACT("r2")                                                    \
    "strd   r3, r2, [lr], #8\n\t"
/* Without activation: the high word of each sum as it is. */
#define TR_ROWS_NONE                                                                    \
    TR_ROW_SUM("r0", "0") "str    r5, [lr], #4\n\t"                                    \
    TR_ROW_SUM("r1", "4") "str    r5, [lr], #4\n\t"                                    \
    TR_ROW_SUM("r3", "8") "str    r5, [lr], #4\n\t"                                    \
    TR_ROW_SUM("r2", "12") "str    r5, [lr], #4\n\t"

/* TR_DSP_MODE_A_ONLY row k: the one input went through segment b, so its sums are in registers: (bias + acc *
 * mult_a) >> 32. */
#define TR_A_ONLY_ROW(acc)                                                              \
    "ldmia  r12!, {r4, r5, r6, r7}\n\t"                                                 \
    "smlal  r4, r5, " acc ", r6\n\t"                                                    \
    "str    r5, [lr], #4\n\t"

/* TR_DSP_MODE_GRU row k: n = (bias + acc_a * mult_a) >> 32 (mult_b is 0 there) and c = (bias2 + acc_b * mult_a2)
 * >> 32 from the second requantisation (both sums from the frame), then the cell update of tr_gru_step kept in registers:
 * pre = n + round_shift(r c, 15) (tr_add_gate_mul_q15: LSL, AND, ADD, SMMLAR), nj = tanh(pre) (table r11,
 * rounding r12), h' = nj + ((z (h - nj) + 2^14) >> 15) (lr = 2^14), stored as int16 at r3. h' needs no
 * saturation: 0 <= z < 2^15 puts it between nj and h, both int16. r0 walks z, r1 the second requantisation,
 * r2 the first; r9 = bytes from z[j] to r[j], r10 = bytes from the new h[j] to the old one. */
#define TR_GRU_ROW(k)                                                                   \
    "ldmia  r2!, {r4, r5, r6, r7}\n\t"                                                  \
    "ldr    r8, [sp, #" TR_STR(F_ACC_A) " + " k "]\n\t"                                 \
    "smlal  r4, r5, r8, r6\n\t"                  /* r5 = n */                            \
    "ldmia  r1!, {r4, r6, r7, r8}\n\t"           /* bias2 (r4:r6), mult_a2, mult_b2 (unused) */ \
    "ldr    r8, [sp, #" TR_STR(F_ACC_B) " + " k "]\n\t"                                 \
    "smlal  r4, r6, r8, r7\n\t"                  /* r6 = c */                            \
    "ldr    r4, [r0, r9]\n\t"                    /* r */                                 \
    "lsl    r4, r4, #17\n\t"                                                            \
    "and    r7, r6, r4, asr #31\n\t"                                                    \
    "add    r7, r7, r5\n\t"                                                             \
    "smmlar r5, r6, r4, r7\n\t"                  /* r5 = pre */                          \
    TR_ACT_CODE_WITH("18", "9", "r11", "r12", "r5") /* r5 = nj */                           \
    "ldr    r6, [r0], #4\n\t"                    /* z */                                 \
    "ldrsh  r4, [r3, r10]\n\t"                   /* h */                                 \
    "sub    r4, r4, r5\n\t"                                                             \
    "mla    r4, r6, r4, lr\n\t"                                                         \
    "add    r5, r5, r4, asr #15\n\t"                                                    \
    "strh   r5, [r3], #2\n\t"

/* TR_DSP_MODE_LSTM, the cell update of the unit whose o gate (Q15) is in `o` (tr_lstm_step):
 * c' = round_shift(i g, 16) + round_shift(f c, 15) (SMMULR of i << 16 by g; then tr_add_gate_mul_q15 as in
 * TR_GRU_ROW), t = tanh(c') and h' = (o t + 2^14) >> 15 (lr = 2^14; the interpolation takes frac << 6 so that
 * the same constant rounds it: (rise frac 2^6 + 2^14) >> 15 = (rise frac + 2^8) >> 9). c' in place (r10), h'
 * as int16 at r11. r8 walks i, r9 = bytes from i[j] to f[j] (g[j] at twice that), r12 = the tanh table. */
#define TR_LSTM_CELL(o)                                                                 \
    "ldr    r4, [r8, r9, lsl #1]\n\t"            /* g */                                 \
    "ldr    r5, [r8, r9]\n\t"                    /* f */                                 \
    "ldr    r6, [r8], #4\n\t"                    /* i */                                 \
    "lsl    r6, r6, #16\n\t"                                                            \
    "smmulr r6, r6, r4\n\t"                      /* round_shift(i g, 16) */              \
    "ldr    r4, [r10]\n\t"                       /* c */                                 \
    "lsl    r5, r5, #17\n\t"                                                            \
    "and    r7, r4, r5, asr #31\n\t"                                                    \
    "add    r7, r7, r6\n\t"                                                             \
    "smmlar r5, r4, r5, r7\n\t"                  /* c' */                                \
    "str    r5, [r10], #4\n\t"                                                          \
    "ssat   r5, #18, r5\n\t"                                                            \
    "asr    r6, r5, #9\n\t"                                                             \
    "ldr    r7, [r12, r6, lsl #2]\n\t"                                                  \
    "ubfx   r4, r5, #0, #9\n\t"                                                         \
    "lsl    r4, r4, #6\n\t"                                                             \
    "smlatb r6, r7, r4, lr\n\t"                                                         \
    "sxth   r7, r7\n\t"                                                                 \
    "add    r5, r7, r6, asr #15\n\t"             /* t */                                 \
    "mla    r5, " o ", r5, lr\n\t"                                                      \
    "asr    r5, r5, #15\n\t"                                                            \
    "strh   r5, [r11], #2\n\t"

/* The end of a block: the row pointers back to the frame, the block counter (r10) down, the next block from
 * TOP or the job's end. */
#define TR_BLOCK_END(TOP)                                                               \
    "strd   r12, lr, [sp, #" TR_STR(F_RQ) "]\n\t"                                       \
    "subs   r10, r10, #1\n\t"                                                           \
    "bne    " TOP "\n\t"                                                                \
    "b      .Ltr_dsp_job_end\n"

/* Every job of the list, each its blocks of 4 rows. Registers in the segments: r0..r3, r6, r7 sums
 * (TR_GROUP), r4/r5 inputs, r8/r9 weights, r11 weight pointer, r12 input pointer, lr loop count; r10 counts
 * the job's blocks down (the row code leaves it alone, but for the cell updates, which save it with r11).
 * Per job, the prologue makes every decision once: the loop count and entry of each segment, the address of
 * the job's row code, and the row code's first words (F_ROW0..F_OUT, F_GRU, F_LSTM), so a block reads its
 * set-up with LDRD and LDM and dispatches with LDR PC. A job without a tr_dense_t goes on where the previous
 * one stopped (the weight pointer, the requant and output pointers and the segments as they are: the i and f,
 * g, o gates of the LSTM); a job without input a keeps the previous job's segments (the GRU candidate). */
__attribute__((naked, noinline)) void tr_dsp_blocks(const tr_dsp_job_t *job, int32_t jobs)
{
    (void)job, (void)jobs;                  /* in r0, r1 (AAPCS) */
    __asm__(
        "push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub    sp, sp, #" TR_STR(F_SIZE) "\n"
        ".Ltr_dsp_job:\n\t"                     /* r0 = the job, r1 = jobs left including it */
        "strd   r0, r1, [sp, #" TR_STR(F_JOB) "]\n\t"
        "ldrd   r10, r2, [r0, #" TR_STR(TR_DSP_JOB_BLOCKS) "]\n\t"   /* blocks, mode */
        "adr    r3, .Ltr_dsp_rows_table\n\t"
        "ldr    r3, [r3, r2, lsl #2]\n\t"
        "str    r3, [sp, #" TR_STR(F_ROW_CODE) "]\n\t"
        "ldrd   r4, r5, [r0, #" TR_STR(TR_DSP_JOB_ROWS) "]\n\t"
        "strd   r4, r5, [sp, #" TR_STR(F_ROW0) "]\n\t"
        "cmp    r2, #" TR_STR(TR_DSP_MODE_LSTM) "\n\t"
        "bne    .Ltr_dsp_not_lstm\n\t"
        "ldrd   r4, r6, [r0, #" TR_STR(TR_DSP_JOB_LSTM_I) "]\n\t"   /* i, c */
        "lsl    r5, r10, #4\n\t"                /* f[j] is units = 4 * blocks words after i[j] */
        "ldr    r7, [r0, #" TR_STR(TR_DSP_JOB_OUT) "]\n\t"
        "ldr    r8, [r0, #" TR_STR(TR_DSP_JOB_TANH) "]\n\t"
        "mov    r9, #" TR_STR(TR_GRU_ROUND) "\n\t"
        "add    r3, sp, #" TR_STR(F_LSTM) "\n\t"
        "stmia  r3, {r4, r5, r6, r7, r8, r9}\n"
        ".Ltr_dsp_not_lstm:\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_DENSE) "]\n\t"
        "cmp    r1, #0\n\t"
        "beq    .Ltr_dsp_top\n\t"               /* go on with the previous product */
        "ldrd   r11, r4, [r1, #" TR_STR(TR_DENSE_WEIGHTS) "]\n\t"    /* weights, requant */
        "ldr    r5, [r0, #" TR_STR(TR_DSP_JOB_OUT) "]\n\t"
        "strd   r4, r5, [sp, #" TR_STR(F_RQ) "]\n\t"
        "ldr    r6, [r1, #" TR_STR(TR_DENSE_ROWS) "]\n\t"            /* rows | cols_a << 16 */
        "ldrh   r7, [r1, #" TR_STR(TR_DENSE_COLS_B) "]\n\t"
        "cmp    r2, #" TR_STR(TR_DSP_MODE_GRU) "\n\t"
        "bne    .Ltr_dsp_not_gru\n\t"
        "ubfx   r4, r6, #0, #16\n\t"
        "lsl    r4, r4, #2\n\t"                 /* r[j] is `rows` words after z[j] */
        "ldrd   r5, r8, [r0, #" TR_STR(TR_DSP_JOB_H_OFFSET) "]\n\t"   /* h offset, tanh table */
        "mov    r9, #" TR_STR(TR_TANH_ROUND) "\n\t"
        "mov    r12, #" TR_STR(TR_GRU_ROUND) "\n\t"
        "add    r3, sp, #" TR_STR(F_GRU) "\n\t"
        "stmia  r3, {r4, r5, r8, r9, r12}\n"
        ".Ltr_dsp_not_gru:\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_A) "]\n\t"
        "cbz    r1, .Ltr_dsp_inputs_set\n\t"    /* the previous job's inputs and their set-up */
        "lsr    r8, r6, #16\n\t"                /* cols_a */
        "cmp    r2, #" TR_STR(TR_DSP_MODE_A_ONLY) "\n\t"
        "beq    .Ltr_dsp_b_setup\n\t"           /* the one input goes through segment b */
        "sub    r9, r8, #1\n\t"
        "lsr    r9, r9, #2\n\t"                 /* groups after the first */
        "adr    r3, .Ltr_dsp_a_table\n\t"
        "cmp    r8, #4\n\t"
        "bls    .Ltr_dsp_a_setup\n\t"
        "sub    r4, r8, #1\n\t"
        "tst    r4, #2\n\t"                     /* cols_a % 4 in 1..2: the last group is a half group */
        "itt    eq\n\t"
        "subeq  r9, r9, #1\n\t"
        "addeq  r3, r3, #" TR_STR(TR_SEGMENT_TABLE_BYTES) "\n"   /* .Ltr_dsp_ah_table */
        ".Ltr_dsp_a_setup:\n\t"
        TR_SEGMENT_SETUP("4", "2")
        "str    r1, [sp, #" TR_STR(F_A) "]\n\t"
        "strd   r4, r5, [sp, #" TR_STR(F_A) " + 4]\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_B) "]\n\t"
        "mov    r8, r7\n"                       /* cols_b */
        ".Ltr_dsp_b_setup:\n\t"
        "sub    r9, r8, #1\n\t"
        "lsr    r9, r9, #2\n\t"
        "adr    r3, .Ltr_dsp_b_table\n\t"
        TR_SEGMENT_SETUP("8", "3")
        "str    r1, [sp, #" TR_STR(F_B) "]\n\t"
        "strd   r4, r5, [sp, #" TR_STR(F_B) " + 4]\n"
        ".Ltr_dsp_inputs_set:\n\t"
        "cmp    r2, #" TR_STR(TR_DSP_MODE_A_ONLY) "\n\t"
        "beq    .Ltr_dsp_b_top\n"
        ".Ltr_dsp_top:\n\t"                     /* a block */
        TR_SEGMENT_START(F_A)
        TR_SEGMENT_LOOP(".Ltr_dsp_a")
        ".Ltr_dsp_a_done:\n\t"
        TR_AFTER_A
        ".Ltr_dsp_b_top:\n\t"
        TR_SEGMENT_START(F_B)
        TR_SEGMENT_LOOP8(".Ltr_dsp_b")
        ".Ltr_dsp_b_done:\n\t"
        TR_SEGMENT_END
        "ldr    pc, [sp, #" TR_STR(F_ROW_CODE) "]\n"
        TR_SEGMENT_LOOP(".Ltr_dsp_ah")          /* segment a ending in a half group */
        ".Ltr_dsp_ah_done:\n\t"
        TR_HALF_GROUP
        TR_AFTER_A
        TR_SEGMENT_START(F_B)                   /* a copy of segment b's start: no branch back */
        ".Ltr_dsp_sigmoid:\n\t"
        "ldmia  sp, {r8, r9, r12, lr}\n\t"      /* round, table, rq, out */
        TR_ROWS_ACT(TR_ACT_SIGMOID_CODE)
        TR_BLOCK_END(".Ltr_dsp_top")
        ".Ltr_dsp_tanh:\n\t"
        "ldmia  sp, {r8, r9, r12, lr}\n\t"
        TR_ROWS_ACT(TR_ACT_TANH_CODE)
        TR_BLOCK_END(".Ltr_dsp_top")
        ".Ltr_dsp_none:\n\t"
        "ldrd   r12, lr, [sp, #" TR_STR(F_RQ) "]\n\t"
        TR_ROWS_NONE
        TR_BLOCK_END(".Ltr_dsp_top")
        ".Ltr_dsp_a_only:\n\t"
        "ldrd   r12, lr, [sp, #" TR_STR(F_RQ) "]\n\t"
        TR_A_ONLY_ROW("r0") TR_A_ONLY_ROW("r1") TR_A_ONLY_ROW("r3") TR_A_ONLY_ROW("r2")
        TR_BLOCK_END(".Ltr_dsp_b_top")
        ".Ltr_dsp_gru:\n\t"
        "strd   r10, r11, [sp, #" TR_STR(F_SAVE) "]\n\t"
        "strd   r0, r1, [sp, #" TR_STR(F_ACC_B) "]\n\t"      /* sums of input b, rows 0..3 */
        "strd   r3, r2, [sp, #" TR_STR(F_ACC_B) " + 8]\n\t"
        /* z, rq2, rq, out (F_ROW0..F_OUT), r offset, h offset, tanh table, the two rounding constants */
        "ldmia  sp, {r0, r1, r2, r3, r9, r10, r11, r12, lr}\n\t"
        TR_GRU_ROW("0") TR_GRU_ROW("4") TR_GRU_ROW("8") TR_GRU_ROW("12")
        "stmia  sp, {r0, r1, r2, r3}\n\t"
        "ldrd   r10, r11, [sp, #" TR_STR(F_SAVE) "]\n\t"
        "subs   r10, r10, #1\n\t"
        "bne    .Ltr_dsp_top\n\t"
        "b      .Ltr_dsp_copy_h\n"
        ".Ltr_dsp_lstm:\n\t"
        "ldmia  sp, {r8, r9, r12, lr}\n\t"      /* round, table (sigmoid), rq, out (unused) */
        TR_ROW_SUM("r0", "0") TR_ACT_SIGMOID_CODE("r0")  /* o of the 4 units in r0, r1, r3, r2 */
        TR_ROW_SUM("r1", "4") TR_ACT_SIGMOID_CODE("r1")
        TR_ROW_SUM("r3", "8") TR_ACT_SIGMOID_CODE("r3")
        TR_ROW_SUM("r2", "12") TR_ACT_SIGMOID_CODE("r2")
        "str    r12, [sp, #" TR_STR(F_RQ) "]\n\t"
        "strd   r10, r11, [sp, #" TR_STR(F_SAVE) "]\n\t"
        "add    r4, sp, #" TR_STR(F_LSTM) "\n\t"
        "ldmia  r4, {r8, r9, r10, r11, r12, lr}\n\t"   /* i, f offset, c, new h, tanh table, 2^14 */
        TR_LSTM_CELL("r0") TR_LSTM_CELL("r1") TR_LSTM_CELL("r3") TR_LSTM_CELL("r2")
        "add    r4, sp, #" TR_STR(F_LSTM) "\n\t"
        "stmia  r4, {r8, r9, r10, r11}\n\t"
        "ldrd   r10, r11, [sp, #" TR_STR(F_SAVE) "]\n\t"
        "subs   r10, r10, #1\n\t"
        "bne    .Ltr_dsp_top\n"
        ".Ltr_dsp_copy_h:\n\t"                  /* TR_DSP_MODE_GRU, TR_DSP_MODE_LSTM: the new h over the old one */
        "ldr    r0, [sp, #" TR_STR(F_JOB) "]\n\t"
        "ldr    r2, [r0, #" TR_STR(TR_DSP_JOB_COPY) "]\n\t"
        "cbz    r2, .Ltr_dsp_job_end\n\t"
        "ldr    r1, [r0, #" TR_STR(TR_DSP_JOB_OUT) "]\n\t"
        "ldr    r3, [r0, #" TR_STR(TR_DSP_JOB_H_OFFSET) "]\n\t"
        "add    r3, r3, r1\n\t"
        "lsrs   r2, r2, #1\n\t"                 /* 2 blocks (16 bytes) per LDM; carry: one more block */
        "bcc    .Ltr_dsp_copy_pairs\n\t"
        "ldrd   r4, r5, [r1], #8\n\t"
        "strd   r4, r5, [r3], #8\n"
        ".Ltr_dsp_copy_pairs:\n\t"
        "cbz    r2, .Ltr_dsp_job_end\n"
        ".Ltr_dsp_copy:\n\t"
        "ldmia  r1!, {r4, r5, r6, r7}\n\t"
        "stmia  r3!, {r4, r5, r6, r7}\n\t"
        "subs   r2, r2, #1\n\t"
        "bne    .Ltr_dsp_copy\n"
        ".Ltr_dsp_job_end:\n\t"
        "ldrd   r0, r1, [sp, #" TR_STR(F_JOB) "]\n\t"
        "subs   r1, r1, #1\n\t"
        "itt    ne\n\t"
        "addne  r0, r0, #" TR_STR(TR_DSP_JOB_SIZE) "\n\t"
        "bne    .Ltr_dsp_job\n\t"
        "add    sp, sp, #" TR_STR(F_SIZE) "\n\t"
        "pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".align 2\n"
        ".Ltr_dsp_rows_table:\n\t"          /* by job->mode: TR_DSP_MODE_PRODUCT, SIGMOID, TANH, GRU, A_ONLY, LSTM */
        ".word  .Ltr_dsp_none + 1, .Ltr_dsp_sigmoid + 1, .Ltr_dsp_tanh + 1, .Ltr_dsp_gru + 1\n\t"
        ".word  .Ltr_dsp_a_only + 1, .Ltr_dsp_lstm + 1\n"
        ".Ltr_dsp_a_table:\n\t"
        TR_SEGMENT_TABLE(".Ltr_dsp_a")
        ".Ltr_dsp_ah_table:\n\t"            /* must follow .Ltr_dsp_a_table (TR_SEGMENT_TABLE_BYTES) */
        TR_SEGMENT_TABLE(".Ltr_dsp_ah")
        ".Ltr_dsp_b_table:\n\t"
        TR_SEGMENT_TABLE8(".Ltr_dsp_b"));
}
#endif /* TR_FAST_PATH_ARM_DSP */
