/*
 * Byte offsets of the tinyrnn.h structs that the optimized paths' assembly reads (arm_dsp/, armv6m/), as named
 * constants the assembly splices in, each checked against the C layout where the assembly is built
 * (TR_CHECK in the path's job header).
 */
#ifndef TR_LAYOUT_H
#define TR_LAYOUT_H

#include <stddef.h>

#include "tinyrnn.h"

#define TR_STR_(x) #x
#define TR_STR(x) TR_STR_(x)                /* a constant as asm text: TR_STR(TR_REQUANT_MULT_A) is "8" */

/* A compile-time check that C99 accepts (no _Static_assert): an array of size -1 does not compile. */
#define TR_CHECK(cond, name) typedef char tr_check_##name[(cond) ? 1 : -1]

/* tr_requant_t as the assembly reads it: one 16-byte entry per row, bias as two words. */
#define TR_REQUANT_BIAS_LO 0                /* low word of bias (little-endian) */
#define TR_REQUANT_BIAS_HI 4                /* high word of bias */
#define TR_REQUANT_MULT_A 8
#define TR_REQUANT_MULT_B 12
#define TR_REQUANT_SIZE 16                  /* entries follow one another */

/* tr_dense_t as the DSP routine reads it (32-bit pointers) */
#define TR_DENSE_ROWS 0                     /* LDR: rows in the low halfword, cols_a in the high one */
#define TR_DENSE_COLS_A 2
#define TR_DENSE_COLS_B 4
#define TR_DENSE_WEIGHTS 8                  /* LDRD: requant is the next word */
#define TR_DENSE_REQUANT 12

/* The checks of the tr_requant_t offsets, for the job header of every path that reads them. */
#define TR_CHECK_REQUANT_LAYOUT()                                                                       \
    TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4 \
             && sizeof(((tr_requant_t *)0)->bias) == 8, requant_bias);                                  \
    TR_CHECK(offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A, requant_mult_a);                      \
    TR_CHECK(offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B, requant_mult_b);                      \
    TR_CHECK(sizeof(tr_requant_t) == TR_REQUANT_SIZE, requant_size)

#endif /* TR_LAYOUT_H */
