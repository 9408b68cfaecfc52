/*
 * tinyrnn_reset / tinyrnn_step over stacked layers (docs/quantization.md, "Stacked layers").
 * Twin: quantize/twin/cells.py TwinModel.step.
 *
 * State buffer, per layer in order: h as TR_PAD4(units) int16 (Q15; padding stays 0), then for LSTM
 * c as units int32 (Q14).  Scratch buffer: the input copied as TR_PAD4(input_dim) int16 (padded with 0
 * and 4-byte aligned, as tr_matvec_s16_s8 reads it), then the cell's work area, reused by the head.
 * The sizes are TINYRNN_STATE_WORDS / TINYRNN_SCRATCH_WORDS in the generated model_data.h
 * (computed by quantize/twin/cells.py state_words / scratch_words).
 */
#include "tr_fast.h"
#include "tr_kernels.h"

void tinyrnn_reset(const tinyrnn_model_t *model, int32_t *state)
{
    const int per_layer = TR_PAD4(model->units) / 2 + (model->cell == TINYRNN_CELL_LSTM ? model->units : 0);
    int i;
    for (i = 0; i < per_layer * model->layers; i++) {
        state[i] = 0;
    }
}

void tinyrnn_step(const tinyrnn_model_t *model, int32_t *state, int32_t *scratch,
                  const int16_t *x, int32_t *y)
{
    const int h_words = TR_PAD4(model->units) / 2;
    const int d = model->input_dim, d_padded = TR_PAD4(d);    /* locals: the int16 stores below may alias */
    int16_t *x_padded = (int16_t *)scratch;
    int32_t *work = scratch + d_padded / 2;
    const int16_t *layer_input = x_padded;
    int i, l;
    tr_fast_t done = TR_FAST_NONE;

    for (i = 0; i < d; i++) {
        x_padded[i] = x[i];
    }
    for (; i < d_padded; i++) {
        x_padded[i] = 0;
    }

    for (l = 0; l < model->layers; l++) {
        int16_t *h = (int16_t *)state;
        /* an optimized path's whole layer step, and after the last layer maybe the head's product too
         * (TR_FAST_DONE_WITH_LOGITS: its logits in work); c is LSTM's */
        done = tr_fast_layer_step(model, l, layer_input, h, state + h_words, work);
        if (model->cell == TINYRNN_CELL_LSTM) {
            if (done == TR_FAST_NONE) {
                tr_lstm_step(&model->layer[l], model->units, layer_input, h, state + h_words, work);
            }
            state += h_words + model->units;
        } else {
            if (done == TR_FAST_NONE) {
                tr_gru_step(&model->layer[l], model->cell == TINYRNN_CELL_GRU_RESET_AFTER, model->units,
                            layer_input, h, work);
            }
            state += h_words;
        }
        layer_input = h;                 /* the next layer (or the head) reads this layer's new h */
    }
    if (done == TR_FAST_DONE_WITH_LOGITS) {     /* the logits are in work */
        tr_fast_head_outputs(model->head, model->head_dense.rows, work, y);
        return;
    }
    tr_head(&model->head_dense, model->head, layer_input, work, y);
}

const char *tinyrnn_kernel_path(void)
{
    return TR_KERNEL_PATH;
}
