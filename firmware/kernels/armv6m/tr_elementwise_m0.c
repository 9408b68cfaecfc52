/*
 * The Cortex-M0/M0+ (Thumb-1) element-wise loops: the table activations over a vector (tr_activation.c) and the
 * per-unit cell updates of the GRU reset_after step (tr_gru.c) and the LSTM step (tr_lstm.c), which the C callers
 * hand over whole on this path. Twin: quantize/twin/fixedpoint.py, quantize/twin/cells.py.
 *
 * Why assembly: GCC's Thumb-1 code for these loops rebuilds its constants (rounding terms, clamp bounds) inside the
 * loop and spills pointers: ~24 instructions a sigmoid, ~70 a GRU unit. Here the constants stay in registers (the
 * high ones where the low ones run out: ADD, CMP and MOV reach them) and the same integers are formed:
 *  - table lookup (TR_SYMMETRIC_INTERP): t = z + 2^(sat-1) is the offset from the table's first word, so the
 *    segment is t >> seg_bits and the fraction t & (2^seg_bits - 1) (the offset is whole segments); t is in range
 *    exactly when t >> sat is 0 (a negative t reads as a large unsigned one). Out of range, the sign of z picks the
 *    end, t = 0 or 2^sat - 1, which holds even when z + 2^(sat-1) wraps;
 *  - tr_add_gate_mul_q15 as its Thumb-1 C form (tr_fixedpoint.h): a + 2 g (v >> 16) + ((g (v & 0xFFFF) + 2^14) >> 15);
 *  - round_shift(x, s) as ((x >> (s - 1)) + 1) >> 1 where no register is left for 2^(s-1) (equal: the bits below
 *    s - 1 cannot carry into bit s - 1 when 2^(s-1) is added);
 *  - the GRU update needs no sat16: with 0 <= z <= 2^15 - 1 (a sigmoid output) and d = h - nj, (z d + 2^14) >> 15
 *    lies between 0 and d inclusive (32767 |d| + 2^14 < 2^15 (|d| + 1)), so the new h lies between nj and h, both
 *    int16 (the twin's sat16 never clamps there).
 * Other targets compile this file to nothing.
 */
#include "../tr_fast.h"

#if TR_FAST_PATH_ARMV6M

/* r6 = the table value at the in-range offset t in r5 (`load`: r6 = the word at table + r6); r4, r7 work.
 * Needs 2^(seg_bits - 1) in r12. */
#define TR_M0_LOOKUP(seg_bits, load)                                                    \
    "lsrs   r6, r5, #" seg_bits "\n\t"                                                  \
    "lsls   r6, r6, #2\n\t"                                                             \
    load                                            /* rise << 16 | start */            \
    "lsls   r4, r5, #(32 - " seg_bits ")\n\t"                                           \
    "lsrs   r4, r4, #(32 - " seg_bits ")\n\t"       /* fraction */                      \
    "asrs   r7, r6, #16\n\t"                        /* rise */                          \
    "muls   r4, r7, r4\n\t"                                                             \
    "add    r4, r12\n\t"                                                                \
    "asrs   r4, r4, #" seg_bits "\n\t"                                                  \
    "sxth   r6, r6\n\t"                             /* start */                         \
    "adds   r6, r6, r4\n\t"
/* r5 = the table end for the out-of-range offset t = z + 2^(sat-1) in r5 (`unoffset`: r5 = z). */
#define TR_M0_CLAMP(sat_bits, unoffset)                                                 \
    unoffset                                                                            \
    "asrs   r5, r5, #31\n\t"                                                            \
    "mvns   r5, r5\n\t"                                                                 \
    "lsrs   r5, r5, #(32 - " sat_bits ")\n\t"
/* r6 = 2^(bits) into high register `reg`. */
#define TR_M0_POW2(bits, reg)                                                           \
    "movs   r6, #1\n\t"                                                                 \
    "lsls   r6, r6, #(" bits ")\n\t"                                                    \
    "mov    " reg ", r6\n\t"
#define TR_M0_PUSH_HIGH                                                                 \
    "mov    r4, r8\n\t"                                                                 \
    "mov    r5, r9\n\t"                                                                 \
    "mov    r6, r10\n\t"                                                                \
    "mov    r7, r11\n\t"                                                                \
    "push   {r4, r5, r6, r7}\n\t"
#define TR_M0_POP_HIGH                                                                  \
    "pop    {r4, r5, r6, r7}\n\t"                                                       \
    "mov    r8, r4\n\t"                                                                 \
    "mov    r9, r5\n\t"                                                                 \
    "mov    r10, r6\n\t"                                                                \
    "mov    r11, r7\n\t"

/* z[0..n) = act(z) in place (Q14 in, Q15 out) by the table `seg` (tr_*_seg) of sat_bits / seg_bits. Loop: r0 z,
 * r1 end, r2 seg, r3 2^(sat-1), r12 2^(seg-1). */
#define TR_M0_ACTIVATION(name, sat_bits, seg_bits)                                      \
    __attribute__((naked, noinline)) void name(int32_t *z, int n, const int32_t *seg)   \
    {                                                                                   \
        (void)z;                                        /* r0 */                        \
        (void)n;                                        /* r1 */                        \
        (void)seg;                                      /* r2 */                        \
        __asm__(                                                                        \
            ".syntax unified\n\t"                                                       \
            "cmp    r1, #0\n\t"                                                         \
            "ble    .L" #name "_ret\n\t"                                                \
            "push   {r4, r5, r6, r7}\n\t"                                               \
            "lsls   r1, r1, #2\n\t"                                                     \
            "adds   r1, r1, r0\n\t"                                                     \
            TR_M0_POW2(seg_bits " - 1", "r12")                                          \
            "movs   r3, #1\n\t"                                                         \
            "lsls   r3, r3, #(" sat_bits " - 1)\n"                                      \
            ".L" #name "_loop:\n\t"                                                     \
            "ldr    r5, [r0]\n\t"                                                       \
            "adds   r5, r5, r3\n\t"                     /* t */                         \
            "lsrs   r6, r5, #" sat_bits "\n\t"                                          \
            "bne    .L" #name "_clamp\n"                                                \
            ".L" #name "_in:\n\t"                                                       \
            TR_M0_LOOKUP(seg_bits, "ldr    r6, [r2, r6]\n\t")                           \
            "stmia  r0!, {r6}\n\t"                                                      \
            "cmp    r0, r1\n\t"                                                         \
            "bne    .L" #name "_loop\n\t"                                               \
            "pop    {r4, r5, r6, r7}\n"                                                 \
            ".L" #name "_ret:\n\t"                                                      \
            "bx     lr\n"                                                               \
            ".L" #name "_clamp:\n\t"                                                    \
            TR_M0_CLAMP(sat_bits, "subs   r5, r5, r3\n\t")                              \
            "b      .L" #name "_in\n\t"                                                 \
            ".syntax divided\n\t");                                                     \
    }

TR_M0_ACTIVATION(tr_m0_sigmoid_q15, TR_STR(TR_SIGMOID_SAT_BITS), TR_STR(TR_SIGMOID_SEG_BITS))
TR_M0_ACTIVATION(tr_m0_tanh_q15, TR_STR(TR_TANH_SAT_BITS), TR_STR(TR_TANH_SEG_BITS))

#define TR_M0_TANH_SAT TR_STR(TR_TANH_SAT_BITS)
#define TR_M0_TANH_SEG TR_STR(TR_TANH_SEG_BITS)
/* The tanh lookup of the cell loops: t in r5 -> tanh in r6, the table's first word in r9, 2^(sat-1) in r10. */
#define TR_M0_CELL_LOOKUP TR_M0_LOOKUP(TR_M0_TANH_SEG, "add    r6, r9\n\t" "ldr    r6, [r6]\n\t")
#define TR_M0_CELL_CLAMP TR_M0_CLAMP(TR_M0_TANH_SAT, "mov    r6, r10\n\t" "subs   r5, r5, r6\n\t")

/* Frame on entry to the cell loops: r4..r7, lr, then r8..r11: 36 bytes above the caller's stacked argument. */
#define TR_M0_CELL_ENTRY                                                                \
    "push   {r4, r5, r6, r7, lr}\n\t"                                                   \
    TR_M0_PUSH_HIGH                                                                     \
    "ldr    r4, [sp, #36]\n\t"                                                          \
    "mov    r9, r4\n\t"                                 /* tanh_seg */                  \
    TR_M0_POW2(TR_M0_TANH_SAT " - 1", "r10")                                            \
    TR_M0_POW2("14", "r11")                                                             \
    TR_M0_POW2(TR_M0_TANH_SEG " - 1", "r12")

/* The GRU reset_after cell update of `count` units from z (tr_gru.c): with r, n, c at z + units, + 2 units, + 3 units,
 * pre = n + round_shift(r c, 15), nj = tanh(pre), h = nj + ((z (h - nj) + 2^14) >> 15) (= its sat16: above).
 * Loop: r0 z (advanced), r1 h, r2 n, r3 4 units (bytes from z to r and from n to c); r8 the end of z. */
__attribute__((naked, noinline)) void tr_m0_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units,
                                                       const int32_t *tanh_seg)
{
    (void)z;                                            /* r0 */
    (void)h;                                            /* r1 */
    (void)count;                                        /* r2 */
    (void)units;                                        /* r3 */
    (void)tanh_seg;                                     /* [sp] */
    __asm__(
        ".syntax unified\n\t"
        "cmp    r2, #0\n\t"
        "ble    .Ltr_m0_gru_ret\n\t"
        TR_M0_CELL_ENTRY
        "lsls   r3, r3, #2\n\t"
        "lsls   r2, r2, #2\n\t"
        "adds   r2, r2, r0\n\t"
        "mov    r8, r2\n\t"                             /* end */
        "lsls   r2, r3, #1\n\t"
        "adds   r2, r2, r0\n"                           /* n */
        ".Ltr_m0_gru_unit:\n\t"
        "ldr    r4, [r0, r3]\n\t"                       /* r */
        "ldr    r5, [r2, r3]\n\t"                       /* c */
        "uxth   r6, r5\n\t"
        "asrs   r5, r5, #16\n\t"
        "muls   r6, r4, r6\n\t"
        "muls   r5, r4, r5\n\t"
        "add    r6, r11\n\t"
        "lsrs   r6, r6, #15\n\t"
        "lsls   r5, r5, #1\n\t"
        "adds   r5, r5, r6\n\t"                         /* round_shift(r c, 15) */
        "ldmia  r2!, {r6}\n\t"                          /* n */
        "adds   r5, r5, r6\n\t"                         /* pre */
        "add    r5, r10\n\t"                            /* t */
        "lsrs   r6, r5, #" TR_M0_TANH_SAT "\n\t"
        "bne    .Ltr_m0_gru_clamp\n"
        ".Ltr_m0_gru_in:\n\t"
        TR_M0_CELL_LOOKUP                               /* r6 = nj */
        "ldrh   r5, [r1]\n\t"
        "sxth   r5, r5\n\t"                             /* h */
        "subs   r5, r5, r6\n\t"
        "ldmia  r0!, {r4}\n\t"                          /* z */
        "muls   r5, r4, r5\n\t"
        "add    r5, r11\n\t"
        "asrs   r5, r5, #15\n\t"
        "adds   r5, r5, r6\n\t"                         /* the new h, in range (no sat16: above) */
        "strh   r5, [r1]\n\t"
        "adds   r1, r1, #2\n\t"
        "cmp    r0, r8\n\t"
        "bne    .Ltr_m0_gru_unit\n\t"
        TR_M0_POP_HIGH
        "pop    {r4, r5, r6, r7, pc}\n"
        ".Ltr_m0_gru_ret:\n\t"
        "bx     lr\n"
        ".Ltr_m0_gru_clamp:\n\t"
        TR_M0_CELL_CLAMP
        "b      .Ltr_m0_gru_in\n\t"
        ".syntax divided\n\t");
}

/* The LSTM cell update of `units` units (tr_lstm.c): with f, g, o at i + units, + 2 units, + 3 units,
 * c = round_shift(i g, 16) + round_shift(f c, 15) (int64 product), h = (o tanh(c) + 2^14) >> 15.
 * Loop: r0 i (advanced), r1 c, r2 g, r3 4 units (bytes from i to f and from g to o); r8 h, lr the end of i. */
__attribute__((naked, noinline)) void tr_m0_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c,
                                                        const int32_t *tanh_seg)
{
    (void)i_gate;                                       /* r0 */
    (void)units;                                        /* r1 */
    (void)h;                                            /* r2 */
    (void)c;                                            /* r3 */
    (void)tanh_seg;                                     /* [sp] */
    __asm__(
        ".syntax unified\n\t"
        "cmp    r1, #0\n\t"
        "ble    .Ltr_m0_lstm_ret\n\t"
        TR_M0_CELL_ENTRY
        "mov    r8, r2\n\t"                             /* h */
        "lsls   r4, r1, #2\n\t"                         /* 4 units */
        "adds   r1, r0, r4\n\t"
        "mov    lr, r1\n\t"                             /* end */
        "lsls   r2, r4, #1\n\t"
        "adds   r2, r2, r0\n\t"                         /* g */
        "movs   r1, r3\n\t"                             /* c */
        "movs   r3, r4\n"
        ".Ltr_m0_lstm_unit:\n\t"
        "ldr    r4, [r0, r3]\n\t"                       /* f */
        "ldr    r6, [r1]\n\t"                           /* c */
        "uxth   r7, r6\n\t"
        "asrs   r6, r6, #16\n\t"
        "muls   r7, r4, r7\n\t"
        "muls   r6, r4, r6\n\t"
        "add    r7, r11\n\t"
        "lsrs   r7, r7, #15\n\t"
        "lsls   r6, r6, #1\n\t"
        "adds   r6, r6, r7\n\t"                         /* round_shift(f c, 15) */
        "ldmia  r0!, {r4}\n\t"                          /* i */
        "ldr    r5, [r2]\n\t"                           /* g */
        "muls   r5, r4, r5\n\t"
        "asrs   r5, r5, #15\n\t"
        "adds   r5, r5, #1\n\t"
        "asrs   r5, r5, #1\n\t"                         /* round_shift(i g, 16) */
        "adds   r5, r5, r6\n\t"                         /* the new c */
        "stmia  r1!, {r5}\n\t"
        "add    r5, r10\n\t"                            /* t */
        "lsrs   r6, r5, #" TR_M0_TANH_SAT "\n\t"
        "bne    .Ltr_m0_lstm_clamp\n"
        ".Ltr_m0_lstm_in:\n\t"
        TR_M0_CELL_LOOKUP                               /* r6 = tanh(c) */
        "ldr    r5, [r2, r3]\n\t"                       /* o */
        "muls   r5, r6, r5\n\t"
        "add    r5, r11\n\t"
        "asrs   r5, r5, #15\n\t"
        "mov    r6, r8\n\t"
        "strh   r5, [r6]\n\t"
        "adds   r6, r6, #2\n\t"
        "mov    r8, r6\n\t"
        "adds   r2, r2, #4\n\t"
        "cmp    r0, lr\n\t"
        "bne    .Ltr_m0_lstm_unit\n\t"
        TR_M0_POP_HIGH
        "pop    {r4, r5, r6, r7, pc}\n"
        ".Ltr_m0_lstm_ret:\n\t"
        "bx     lr\n"
        ".Ltr_m0_lstm_clamp:\n\t"
        TR_M0_CELL_CLAMP
        "b      .Ltr_m0_lstm_in\n\t"
        ".syntax divided\n\t");
}

#endif /* TR_FAST_PATH_ARMV6M */
