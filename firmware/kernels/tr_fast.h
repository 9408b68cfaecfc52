/*
 * The one hook between the portable reference kernels (this folder, plain C) and the optimized paths (one folder
 * each). Which path a target takes is tr_fast_path.h's to say (and only its), from the compiler's own target
 * macros; tinyrnn_kernel_path() reports the choice.
 *
 * Every path header defines the same hooks (static inline functions, or macros where an inline function's
 * argument passing would change GCC's code for the reference around it), which the reference uses unconditionally:
 *   TR_FAST_MATVEC_BLOCKS   the full 4-row blocks of a product (tr_matvec_s16_s8.c does the remainder): a statement
 *                           that advances the reference's row, activated, fused, w, rq, and returns done_value
 *                           from the caller when no row is left
 *   tr_fast_byte_product    every row of a product in the byte layout (layout 3, which only the rv32 path reads):
 *                           TR_FAST_DONE, and the reference loop of that layout is dead code
 *   tr_fast_sigmoid_q15, tr_fast_tanh_q15                               the activations over a vector
 *   tr_fast_gru_update, tr_fast_lstm_update            the per-unit cell updates of tr_gru.c, tr_lstm.c
 *   TR_FAST_CELL_GATES_RAW  1: those two take the gates before their activation (Q14; the gates' product leaves it
 *                           to them, GRU reset_after only), 0: after it (and the reference code's loops need 0)
 *   tr_fast_layer_step, tr_fast_head_outputs       a whole layer step (tr_model.c) and the head after it
 * and TR_FAST_HEAD_OUTPUTS(fn), which makes tr_head.c define tr_head_outputs where a path needs it. A hook
 * that returns TR_FAST_NONE did nothing: the reference code runs. A path defines only the hooks it supplies;
 * tr_fast_reference.h makes the others a constant TR_FAST_NONE (or an empty statement), so in plain C the
 * compiler keeps exactly the reference code.
 */
#ifndef TR_FAST_H
#define TR_FAST_H

#include "tr_kernels.h"

/* What a hook did. */
enum {
    TR_FAST_NONE = 0,               /* nothing: the caller runs the reference code */
    TR_FAST_DONE = 1,               /* the whole job (a layer step: h, and c for LSTM, updated) */
    TR_FAST_DONE_WITH_LOGITS = 2    /* a last layer's step and the head's logits (Q14) into its scratch */
};
/* One of the above, as an int: arm-none-eabi's enum types are one byte, which would cost a zero-extension of every
 * layer step's result. */
typedef int tr_fast_t;

#include "tr_fast_path.h"           /* which path: TR_FAST_PATH_* */
#if TR_FAST_PATH_ARM_DSP
#include "arm_dsp/tr_fast_arm_dsp.h"  /* Cortex-M4/M7/M33: SMLALD/SXTB16 assembly */
#elif TR_FAST_PATH_ARMV6M
#include "armv6m/tr_fast_armv6m.h"  /* Cortex-M0/M0+: Thumb-1 assembly */
#elif TR_FAST_PATH_ARMV7M
#include "armv7m/tr_fast_armv7m.h"  /* Cortex-M3: Thumb-2 assembly (SMLAL, MLA) */
#elif TR_FAST_PATH_RV32
#include "rv32/tr_fast_rv32.h"      /* RV32IM(A)(C): the full row blocks in one C routine */
#endif                              /* else plain C: other cores and hosts, or on request */
#include "tr_fast_reference.h"      /* the hooks the path leaves out: each declines */

#endif /* TR_FAST_H */
