/*
 * The output head (docs/quantization.md, "Head"): logits in Q14, then a fixed-point softmax (Q15
 * probabilities) or nothing (linear regression head, Q14). Twin: quantize/twin/cells.py tr_head.
 */
#include "tr_fast.h"
#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_tables.h"

/* From the k logits in scratch: tr_head's second half (tr_head_outputs, for a path that computes the logits in its
 * layer step). */
static void head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)
{
    int32_t max_logit;
    uint32_t sum = 0;
    int j;

    if (head == TINYRNN_HEAD_LINEAR) {
        for (j = 0; j < k; j++) {
            y[j] = scratch[j];
        }
        return;
    }
    max_logit = scratch[0];
    for (j = 1; j < k; j++) {
        max_logit = scratch[j] > max_logit ? scratch[j] : max_logit;
    }
    for (j = 0; j < k; j++) {
        scratch[j] = tr_exp_neg_q15(scratch[j] - max_logit);   /* 0..32768 */
        sum += (uint32_t)scratch[j];                             /* >= 32768: the max contributes 1.0 */
    }
#if defined(__ARM_FEATURE_IDIV) || !defined(__ARM_ARCH_6M__)
    for (j = 0; j < k; j++) {
        /* p = e * 2^15 / sum, rounded half up (one UDIV on Cortex-M3 and up) */
        y[j] = (int32_t)((((uint32_t)scratch[j] << TR_PROB_FRAC_BITS) + (sum >> 1)) / sum);
    }
#else
    {
        /* Cortex-M0/M0+ have no divide instruction: one library division (the reciprocal) instead of one per
         * output, then the same quotient exactly. n = e 2^15 + sum/2 < 2^31 (e <= 2^15 <= sum <= k 2^15);
         * inv = floor(2^31 / sum) <= 2^16, so (n >> 15) inv < 2^32 and the estimate q = ((n >> 15) inv) >> 16
         * is at most n / sum and short of it by less than 3; the remainder n - q sum (>= 0) steps it up. */
        const uint32_t inv = 0x80000000u / sum;
        for (j = 0; j < k; j++) {
            const uint32_t n = ((uint32_t)scratch[j] << TR_PROB_FRAC_BITS) + (sum >> 1);
            uint32_t q = ((n >> 15) * inv) >> 16;
            uint32_t rem = n - q * sum;
            while (rem >= sum) {
                rem -= sum;
                q++;
            }
            y[j] = (int32_t)q;
        }
    }
#endif
}

void tr_head(const tr_dense_t *dense, uint8_t head, const int16_t *h, int32_t *scratch, int32_t *y)
{
    const int k = dense->rows;
    tr_matvec_s16_s8(dense, h, NULL, scratch, TR_ACT_NONE);
    head_outputs(head, k, scratch, y);
}

/* tr_head_outputs, where a path's layer step computes the logits (tr_fast.h): a second caller of head_outputs only
 * there, so that elsewhere it stays inlined in tr_head */
TR_FAST_HEAD_OUTPUTS(head_outputs);
