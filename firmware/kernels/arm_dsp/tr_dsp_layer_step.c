/*
 * The DSP path's layer step (tr_fast.h tr_fast_layer_step): tr_gru_step reset_after or tr_lstm_step, and after
 * the last layer the head's product, as one list of jobs for tr_dsp_blocks, in tr_gru_step's and tr_lstm_step's
 * scratch layout. Twin: quantize/twin/cells.py tr_gru_step, tr_lstm_step. Other targets compile this file to
 * nothing.
 */
#include "../tr_fast.h"

#if TR_FAST_PATH_ARM_DSP

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
    job->blocks = 2 * units / TR_DSP_ROW_BLOCK;
    job->mode = TR_DSP_MODE_SIGMOID;
    job->rows.act.round = TR_SIGMOID_ROUND;
    job->rows.act.table = tr_sigmoid_seg + TR_TABLE_SEGMENTS / 2;
}

/* After the last layer (head != NULL): the head's product as one more job, when it has only full blocks
 * (TR_DSP_MODE_A_ONLY: no activation, out = logits). Returns the jobs added (0 or 1). */
static int head_job(tr_dsp_job_t *job, const tr_dense_t *head, const int16_t *h, int32_t *logits)
{
    if (head == NULL || head->rows % TR_DSP_ROW_BLOCK != 0) {
        return 0;
    }
    job->dense = head;
    job->a = h;                                             /* the new h: the copy precedes this job */
    job->out = logits;
    job->blocks = head->rows / TR_DSP_ROW_BLOCK;
    job->mode = TR_DSP_MODE_A_ONLY;
    return 1;
}

/* tr_gru_step reset_after (scratch: z, r, n, c): the gates job, then the candidate job with the cell update. */
static tr_fast_t gru_step(const tr_layer_t *layer, int units, const int16_t *x, int16_t *h, int32_t *scratch,
                    const tr_dense_t *head)
{
    tr_dsp_job_t job[3];
    int16_t *const h_new = (int16_t *)(void *)(scratch + 2 * units);   /* n's place, as tr_gru_step */
    int heads;
    gates_job(&job[0], layer, units, x, h, scratch);
    job[1].dense = &layer->candidate;                       /* as tr_matvec_gru_s16_s8, every unit fused */
    job[1].a = NULL;                                        /* x and h again: cols_a = d, cols_b = units in both */
    job[1].out = h_new;
    job[1].blocks = units / TR_DSP_ROW_BLOCK;
    job[1].mode = TR_DSP_MODE_GRU;
    job[1].rows.gru.z = scratch;
    job[1].rows.gru.rq2 = layer->candidate_recurrent.requant;
    job[1].h_offset = (int32_t)((char *)h - (char *)h_new);
    job[1].tanh = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
    job[1].copy = units / TR_DSP_ROW_BLOCK;
    heads = head_job(&job[2], head, h, scratch);
    tr_dsp_blocks(job, 2 + heads);
    return TR_FAST_DONE + heads;            /* with the head's job: TR_FAST_DONE_WITH_LOGITS */
}

/* tr_lstm_step (scratch: i, f, g, o): the gates job (i, f), g (tanh), then o with the cell update, each job
 * where the previous one stopped. */
static tr_fast_t lstm_step(const tr_layer_t *layer, int units, const int16_t *x, int16_t *h, int32_t *c,
                     int32_t *scratch, const tr_dense_t *head)
{
    tr_dsp_job_t job[4];
    int16_t *const h_new = (int16_t *)(void *)(scratch + 3 * units);   /* o's place: o stays in registers */
    int heads;
    gates_job(&job[0], layer, units, x, h, scratch);
    job[1].dense = NULL;
    job[1].blocks = units / TR_DSP_ROW_BLOCK;
    job[1].mode = TR_DSP_MODE_TANH;
    job[1].rows.act.round = TR_TANH_ROUND;
    job[1].rows.act.table = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;
    job[2].dense = NULL;
    job[2].out = h_new;
    job[2].blocks = units / TR_DSP_ROW_BLOCK;
    job[2].mode = TR_DSP_MODE_LSTM;
    job[2].rows = job[0].rows;                              /* sigmoid */
    job[2].h_offset = (int32_t)((char *)h - (char *)h_new);
    job[2].tanh = job[1].rows.act.table;
    job[2].copy = units / TR_DSP_ROW_BLOCK;
    job[2].lstm_i = scratch;
    job[2].lstm_c = c;
    heads = head_job(&job[3], head, h, scratch);
    tr_dsp_blocks(job, 3 + heads);
    return TR_FAST_DONE + heads;            /* with the head's job: TR_FAST_DONE_WITH_LOGITS */
}

tr_fast_t tr_dsp_layer_step(const tinyrnn_model_t *model, int l, const int16_t *x, int16_t *h, int32_t *c,
                            int32_t *scratch)
{
    const tr_dense_t *head = l + 1 == model->layers ? &model->head_dense : NULL;
    if (model->units % TR_DSP_ROW_BLOCK != 0) {
        return TR_FAST_NONE;                /* LSTM: a block would straddle two gates; GRU: a remainder block */
    }
    if (model->cell == TINYRNN_CELL_LSTM) {
        return lstm_step(&model->layer[l], model->units, x, h, c, scratch, head);
    }
    if (model->cell == TINYRNN_CELL_GRU_RESET_AFTER) {
        return gru_step(&model->layer[l], model->units, x, h, scratch, head);
    }
    return TR_FAST_NONE;                    /* reset_before: r * h comes between the two products */
}
#endif /* TR_FAST_PATH_ARM_DSP */
