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
 * Three paths share this layout (TR_MATVEC_* in tr_kernels.h): the DSP path (Cortex-M4/M7/M33,
 * tr_dsp_blocks in tr_matvec_s16_s8_dsp.c), the Thumb-1 path (Cortex-M0/M0+, tr_m0_blocks in
 * tr_matvec_s16_s8_m0.c) and the plain-C reference path here (other cores, and the remainder block of 1..3
 * rows on both assembly paths). Integer sums do not depend on their order, so all give the same bits.
 */
#include <stddef.h>

#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_matvec_job.h"
#include "tr_tables.h"

#define TR_ROW_BLOCK 4   /* quantize/emit/c_code.py ROW_BLOCK; tr_m0_blocks and tr_dsp_blocks are written for 4 */

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
 * out[j] = (bias + acc_a * mult_a + acc_b * mult_b) >> 32 and out2[j] = (rq2 bias + acc_b * rq2 mult_a) >> 32.
 * gru != NULL (with rq2; the GRU reset_after candidate): where the DSP path does full blocks, it goes on to the
 * cell update of those rows into gru->h_new instead of writing out/out2; returns how many rows it did so. */
typedef struct {
    const int32_t *z;                   /* [rows] update gate, then [rows] reset gate, Q15 */
    int16_t *h;                         /* [rows] h before the step (input b), Q15; after it for the fused rows */
    int16_t *h_new;                     /* [rows] h after the step, Q15 */
} tr_gru_update_t;

static int matvec(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                  int32_t *out, int32_t *out2, int act, const tr_gru_update_t *gru)
{
    const int groups_a = TR_PAD4(dense->cols_a) / 4;
    const int groups_b = TR_PAD4(dense->cols_b) / 4;
    const int16_t *w = dense->weights;
    const tr_requant_t *rq = dense->requant;
    int row = 0, activated = 0, fused = 0, r;

#if TR_MATVEC_DSP
    if (dense->rows >= TR_ROW_BLOCK) {
        tr_dsp_job_t job;
        const int blocks = dense->rows / TR_ROW_BLOCK;
        job.dense = dense;
        job.a = a;
        job.b = b;
        job.out = out;
        job.blocks = blocks;
        job.mode = TR_ACT_NONE;             /* TR_ACT_LSTM here (units % 4 != 0): the activations follow in C */
        if (gru != NULL) {
            job.mode = TR_DSP_GRU;
            job.out = gru->h_new;           /* the routine writes int16 there in this mode */
            job.rows.gru.z = gru->z;
            job.rows.gru.rq2 = rq2;
            job.h_offset = (int32_t)((const char *)gru->h - (const char *)gru->h_new);
            job.tanh = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
            /* the routine copies the new h over the old when no remainder block still reads the old h */
            job.copy = dense->rows % TR_ROW_BLOCK == 0 ? blocks : 0;
            fused = blocks * TR_ROW_BLOCK;
        } else if (dense->cols_b == 0) {
            job.mode = TR_DSP_A_ONLY;       /* the activation (none for the head) follows in C */
        } else if (act == TR_ACT_SIGMOID) {
            job.mode = TR_ACT_SIGMOID;
            job.rows.act.round = 1 << (TR_SIGMOID_SEG_BITS - 1);
            job.rows.act.table = tr_sigmoid_seg + TR_TABLE_SEGMENTS / 2;
            activated = blocks * TR_ROW_BLOCK;
        } else if (act == TR_ACT_TANH) {
            job.mode = TR_ACT_TANH;
            job.rows.act.round = 1 << (TR_TANH_SEG_BITS - 1);
            job.rows.act.table = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
            activated = blocks * TR_ROW_BLOCK;
        }
        tr_dsp_blocks(&job, 1);
        row = blocks * TR_ROW_BLOCK;
        if (row == dense->rows && (activated == row || act == TR_ACT_NONE)) {
            return fused;                   /* every row done (and the new h copied: job.copy) */
        }
        w += (size_t)row * 2 * (size_t)(groups_a + groups_b);  /* 8 halfwords per block and group */
        rq += row;
    }
#elif TR_MATVEC_M0
    (void)gru;
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
#else
    (void)gru;
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
    if (fused > 0 && dense->rows % TR_ROW_BLOCK != 0) {     /* the remainder block has read the old h */
        for (r = 0; r < fused; r += 2) {                    /* fused is a multiple of 4: whole int32 words */
            ((int32_t *)(void *)gru->h)[r / 2] = ((const int32_t *)(void *)gru->h_new)[r / 2];
        }
    }
    return fused;
}

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

#if TR_MATVEC_DSP
/* The DSP path's layer step (tr_dsp_layer_step): jobs for tr_dsp_blocks, in tr_gru_step's and tr_lstm_step's
 * scratch layout. */
#define TR_SIGMOID_ROUND (1 << (TR_SIGMOID_SEG_BITS - 1))
#define TR_TANH_ROUND (1 << (TR_TANH_SEG_BITS - 1))

/* The first job of both cells: the gates' first 2 * units rows (GRU z, r; LSTM i, f), sigmoid, into scratch. */
static void gates_job(tr_dsp_job_t *job, const tr_layer_t *layer, int units, const int16_t *x, int16_t *h,
                      int32_t *scratch)
{
    job->dense = &layer->gates;
    job->a = x;
    job->b = h;
    job->out = scratch;
    job->blocks = 2 * units / TR_ROW_BLOCK;
    job->mode = TR_ACT_SIGMOID;
    job->rows.act.round = TR_SIGMOID_ROUND;
    job->rows.act.table = tr_sigmoid_seg + TR_TABLE_SEGMENTS / 2;
}

/* After the last layer (head != NULL): the head's product as one more job, when it has only full blocks
 * (TR_DSP_A_ONLY: no activation, out = logits). Returns the jobs added (0 or 1). */
static int head_job(tr_dsp_job_t *job, const tr_dense_t *head, const int16_t *h, int32_t *logits)
{
    if (head == NULL || head->rows % TR_ROW_BLOCK != 0) {
        return 0;
    }
    job->dense = head;
    job->a = h;                                             /* the new h: the copy precedes this job */
    job->out = logits;
    job->blocks = head->rows / TR_ROW_BLOCK;
    job->mode = TR_DSP_A_ONLY;
    return 1;
}

/* tr_gru_step reset_after (scratch: z, r, n, c): the gates job, then the candidate job with the cell update. */
static int gru_step(const tr_layer_t *layer, int units, const int16_t *x, int16_t *h, int32_t *scratch,
                    const tr_dense_t *head)
{
    tr_dsp_job_t job[3];
    int16_t *const h_new = (int16_t *)(void *)(scratch + 2 * units);   /* n's place, as tr_gru_step */
    int heads;
    gates_job(&job[0], layer, units, x, h, scratch);
    job[1].dense = &layer->candidate;                       /* as tr_matvec_gru_s16_s8, every unit fused */
    job[1].a = NULL;                                        /* x and h again: cols_a = d, cols_b = units in both */
    job[1].out = h_new;
    job[1].blocks = units / TR_ROW_BLOCK;
    job[1].mode = TR_DSP_GRU;
    job[1].rows.gru.z = scratch;
    job[1].rows.gru.rq2 = layer->candidate_recurrent.requant;
    job[1].h_offset = (int32_t)((char *)h - (char *)h_new);
    job[1].tanh = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
    job[1].copy = units / TR_ROW_BLOCK;
    heads = head_job(&job[2], head, h, scratch);
    tr_dsp_blocks(job, 2 + heads);
    return 1 + heads;
}

/* tr_lstm_step (scratch: i, f, g, o): the gates job (i, f), g (tanh), then o with the cell update, each job
 * where the previous one stopped. */
static int lstm_step(const tr_layer_t *layer, int units, const int16_t *x, int16_t *h, int32_t *c,
                     int32_t *scratch, const tr_dense_t *head)
{
    tr_dsp_job_t job[4];
    int16_t *const h_new = (int16_t *)(void *)(scratch + 3 * units);   /* o's place: o stays in registers */
    int heads;
    gates_job(&job[0], layer, units, x, h, scratch);
    job[1].dense = NULL;
    job[1].blocks = units / TR_ROW_BLOCK;
    job[1].mode = TR_ACT_TANH;
    job[1].rows.act.round = TR_TANH_ROUND;
    job[1].rows.act.table = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
    job[2].dense = NULL;
    job[2].out = h_new;
    job[2].blocks = units / TR_ROW_BLOCK;
    job[2].mode = TR_DSP_LSTM;
    job[2].rows = job[0].rows;                              /* sigmoid */
    job[2].h_offset = (int32_t)((char *)h - (char *)h_new);
    job[2].tanh = job[1].rows.act.table;
    job[2].copy = units / TR_ROW_BLOCK;
    job[2].lstm_i = scratch;
    job[2].lstm_c = c;
    heads = head_job(&job[3], head, h, scratch);
    tr_dsp_blocks(job, 3 + heads);
    return 1 + heads;
}

int tr_dsp_layer_step(const tinyrnn_model_t *model, int l, const int16_t *x, int16_t *h, int32_t *c,
                      int32_t *scratch)
{
    const tr_dense_t *head = l + 1 == model->layers ? &model->head_dense : NULL;
    if (model->units % TR_ROW_BLOCK != 0) {
        return 0;                           /* LSTM: a block would straddle two gates; GRU: a remainder block */
    }
    if (model->cell == TINYRNN_CELL_LSTM) {
        return lstm_step(&model->layer[l], model->units, x, h, c, scratch, head);
    }
    if (model->cell == TINYRNN_CELL_GRU_RESET_AFTER) {
        return gru_step(&model->layer[l], model->units, x, h, scratch, head);
    }
    return 0;                               /* reset_before: r * h comes between the two products */
}
#endif
