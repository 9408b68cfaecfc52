/*
 * The hooks of tr_fast.h that a path leaves out, written once: each declines (TR_FAST_NONE), so the callers'
 * plain-C reference code runs. tr_fast.h includes this after the path's header (in plain C, alone). A path
 * supplies the product's blocks by defining TR_FAST_MATVEC_BLOCKS, and says which groups of hooks it supplies
 * itself by defining TR_FAST_SUPPLIES_ELEMENTWISE (the activations and the cell updates) or
 * TR_FAST_SUPPLIES_LAYER_STEP (a layer step and the head after it). Include tr_fast.h, not this file.
 */
#ifndef TR_FAST_REFERENCE_H
#define TR_FAST_REFERENCE_H

#ifndef TR_FAST_MATVEC_BLOCKS
/* No block routine: the reference loop does every row. */
#define TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru,                     \
                              row, activated, fused, w, rq, done_value)                                          \
    do {                                                                                                      \
    } while (0)
#endif

#ifndef TR_FAST_SUPPLIES_ELEMENTWISE
/* The element-wise loops stay the reference C: constants, whose arguments are not even evaluated (a function
 * would leave the callers' pointer arithmetic for them in place, and GCC's register choices with it). */
#define tr_fast_sigmoid_q15(z, n) TR_FAST_NONE
#define tr_fast_tanh_q15(z, n) TR_FAST_NONE
#define tr_fast_gru_update(z, h, count, units) TR_FAST_NONE
#define tr_fast_lstm_update(i_gate, units, h, c) TR_FAST_NONE
#endif

#ifndef TR_FAST_CELL_GATES_RAW
#define TR_FAST_CELL_GATES_RAW 0    /* the gates' product applies their activation (the reference loops need it) */
#endif

#ifndef TR_FAST_SUPPLIES_LAYER_STEP
#define TR_FAST_HEAD_OUTPUTS(fn) typedef char tr_fast_no_head_outputs  /* not needed: no layer-step hook */

/* No layer-step hook: a constant, whose arguments are not even evaluated (a function would leave tr_model.c's
 * pointer arithmetic for them in place, and GCC's register choices with it). */
#define tr_fast_layer_step(model, l, x, h, c, scratch) TR_FAST_NONE

static inline void tr_fast_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)
{
    (void)head, (void)k, (void)scratch, (void)y;    /* never called: tr_fast_layer_step returns no logits */
}
#endif

#endif /* TR_FAST_REFERENCE_H */
