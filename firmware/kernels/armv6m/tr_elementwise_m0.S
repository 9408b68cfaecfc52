/*
 * The Cortex-M0/M0+ (Thumb-1) element-wise loops: the table activations over a vector (tr_activation.c) and the
 * per-unit cell updates of the GRU reset_after step (tr_gru.c) and the LSTM step (tr_lstm.c), which the C callers
 * hand over whole on this path (tr_fast_armv6m.h declares them). Twin: quantize/twin/fixedpoint.py,
 * quantize/twin/cells.py.
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
 * The table geometry comes from tr_layout.h (generated; tr_m0_job.h checks it against tr_tables.h). Other targets
 * assemble this file to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_elementwise_m0.S"

#if TR_FAST_PATH_ARMV6M

    .syntax unified
    .thumb

/* A routine of its own section (the linker drops what is not called), aligned as GCC aligns functions at -O2. */
.macro tr_m0_function name
    .section .text.\name, "ax", %progbits
    .p2align 2,,3
    .global \name
    .thumb_func
    .type \name, %function
\name:
.endm

.macro tr_m0_end name
    .size \name, . - \name
.endm

/* r6 = the table value at the in-range offset t in r5; r4, r7 work; needs 2^(seg_bits - 1) in r12.
 * table: act (r6 = the word at r2 + r6) or cell (r6 = the word at r9 + r6). */
.macro tr_m0_lookup seg_bits, table
    lsrs   r6, r5, #\seg_bits
    lsls   r6, r6, #2
.ifc \table, act
    ldr    r6, [r2, r6]                 /* rise << 16 | start */
.else
    add    r6, r9
    ldr    r6, [r6]                     /* rise << 16 | start */
.endif
    lsls   r4, r5, #(32 - \seg_bits)
    lsrs   r4, r4, #(32 - \seg_bits)    /* fraction */
    asrs   r7, r6, #16                  /* rise */
    muls   r4, r7, r4
    add    r4, r12
    asrs   r4, r4, #\seg_bits
    sxth   r6, r6                       /* start */
    adds   r6, r6, r4
.endm

/* r5 = the table end for the out-of-range offset t = z + 2^(sat-1) in r5; first back to z:
 * act (2^(sat-1) in r3) or cell (2^(sat-1) in r10). */
.macro tr_m0_clamp sat_bits, table
.ifc \table, act
    subs   r5, r5, r3
.else
    mov    r6, r10
    subs   r5, r5, r6
.endif
    asrs   r5, r5, #31
    mvns   r5, r5
    lsrs   r5, r5, #(32 - \sat_bits)
.endm

/* 2^bits into the high register reg (through r6). */
.macro tr_m0_pow2 bits, reg
    movs   r6, #1
    lsls   r6, r6, #(\bits)
    mov    \reg, r6
.endm

.macro tr_m0_push_high
    mov    r4, r8
    mov    r5, r9
    mov    r6, r10
    mov    r7, r11
    push   {r4, r5, r6, r7}
.endm

.macro tr_m0_pop_high
    pop    {r4, r5, r6, r7}
    mov    r8, r4
    mov    r9, r5
    mov    r10, r6
    mov    r11, r7
.endm

/* void name(int32_t *z, int n, const int32_t *seg): z[0..n) = act(z) in place (Q14 in, Q15 out) by the table seg
 * (tr_*_seg) of sat_bits / seg_bits. */
.macro tr_m0_activation name, sat_bits, seg_bits
    z       .req r0                     /* advanced */
    end     .req r1
    seg     .req r2
    half    .req r3                     /* 2^(sat-1): t = z + half */
tr_m0_function \name
    cmp    r1, #0                       /* n */
    ble    .L\name\()_ret
    push   {r4, r5, r6, r7}
    lsls   end, r1, #2
    adds   end, end, z
    tr_m0_pow2 (\seg_bits-1), r12
    movs   half, #1
    lsls   half, half, #(\sat_bits - 1)
.L\name\()_loop:
    ldr    r5, [z]
    adds   r5, r5, half                 /* t */
    lsrs   r6, r5, #\sat_bits
    bne    .L\name\()_clamp
.L\name\()_in:
    tr_m0_lookup \seg_bits, act
    stmia  z!, {r6}
    cmp    z, end
    bne    .L\name\()_loop
    pop    {r4, r5, r6, r7}
.L\name\()_ret:
    bx     lr
.L\name\()_clamp:
    tr_m0_clamp \sat_bits, act
    b      .L\name\()_in
tr_m0_end \name
    .unreq z
    .unreq end
    .unreq seg
    .unreq half
.endm

tr_m0_activation tr_m0_sigmoid_q15, TR_ASM_SIGMOID_SAT_BITS, TR_ASM_SIGMOID_SEG_BITS
tr_m0_activation tr_m0_tanh_q15, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS

/* The cell loops keep, in high registers: r9 the tanh table (tr_tanh_seg), r10 2^(sat-1) of tanh, r11 2^14 (the
 * rounding of >> 15), r12 2^(seg_bits-1) of tanh. */
    tanh_seg   .req r9
    tanh_half  .req r10
    round15    .req r11

/* Frame on entry to the cell loops: r4..r7, lr, then r8..r11: 36 bytes above the caller's stacked argument. */
.macro tr_m0_cell_entry
    push   {r4, r5, r6, r7, lr}
    tr_m0_push_high
    ldr    r4, [sp, #36]
    mov    tanh_seg, r4                 /* the fifth argument */
    tr_m0_pow2 (TR_ASM_TANH_SAT_BITS-1), tanh_half
    tr_m0_pow2 14, round15
    tr_m0_pow2 (TR_ASM_TANH_SEG_BITS-1), r12
.endm

/* void tr_m0_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_seg):
 * the GRU reset_after cell update of count units from z (tr_gru.c): with r, n, c at z + units, + 2 units,
 * + 3 units, pre = n + round_shift(r c, 15), nj = tanh(pre), h = nj + ((z (h - nj) + 2^14) >> 15) (= its sat16:
 * above). */
    z       .req r0                     /* advanced */
    h       .req r1                     /* advanced */
    n       .req r2                     /* advanced */
    stride  .req r3                     /* 4 units: bytes from z to r and from n to c */
    z_end   .req r8
tr_m0_function tr_m0_gru_update
    cmp    r2, #0                       /* count */
    ble    .Ltr_m0_gru_ret
    tr_m0_cell_entry
    lsls   stride, r3, #2
    lsls   r2, r2, #2
    adds   r2, r2, z
    mov    z_end, r2
    lsls   n, stride, #1
    adds   n, n, z
.Ltr_m0_gru_unit:
    ldr    r4, [z, stride]              /* r */
    ldr    r5, [n, stride]              /* c */
    uxth   r6, r5
    asrs   r5, r5, #16
    muls   r6, r4, r6
    muls   r5, r4, r5
    add    r6, round15
    lsrs   r6, r6, #15
    lsls   r5, r5, #1
    adds   r5, r5, r6                   /* round_shift(r c, 15) */
    ldmia  n!, {r6}                     /* n */
    adds   r5, r5, r6                   /* pre */
    add    r5, tanh_half                /* t */
    lsrs   r6, r5, #TR_ASM_TANH_SAT_BITS
    bne    .Ltr_m0_gru_clamp
.Ltr_m0_gru_in:
    tr_m0_lookup TR_ASM_TANH_SEG_BITS, cell   /* r6 = nj */
    ldrh   r5, [h]
    sxth   r5, r5                       /* h */
    subs   r5, r5, r6
    ldmia  z!, {r4}                     /* z */
    muls   r5, r4, r5
    add    r5, round15
    asrs   r5, r5, #15
    adds   r5, r5, r6                   /* the new h, in range (no sat16: above) */
    strh   r5, [h]
    adds   h, h, #2
    cmp    z, z_end
    bne    .Ltr_m0_gru_unit
    tr_m0_pop_high
    pop    {r4, r5, r6, r7, pc}
.Ltr_m0_gru_ret:
    bx     lr
.Ltr_m0_gru_clamp:
    tr_m0_clamp TR_ASM_TANH_SAT_BITS, cell
    b      .Ltr_m0_gru_in
tr_m0_end tr_m0_gru_update
    .unreq z
    .unreq h
    .unreq n
    .unreq stride
    .unreq z_end

/* void tr_m0_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_seg):
 * the LSTM cell update of units units (tr_lstm.c): with f, g, o at i + units, + 2 units, + 3 units,
 * c = round_shift(i g, 16) + round_shift(f c, 15) (int64 product), h = (o tanh(c) + 2^14) >> 15. */
    i_gate  .req r0                     /* advanced */
    c       .req r1                     /* advanced */
    g       .req r2                     /* advanced */
    stride  .req r3                     /* 4 units: bytes from i to f and from g to o */
    h       .req r8                     /* advanced */
tr_m0_function tr_m0_lstm_update
    cmp    r1, #0                       /* units */
    ble    .Ltr_m0_lstm_ret
    tr_m0_cell_entry
    mov    h, r2
    lsls   r4, r1, #2                   /* 4 units */
    adds   r1, i_gate, r4
    mov    lr, r1                       /* the end of i */
    lsls   g, r4, #1
    adds   g, g, i_gate
    movs   c, r3
    movs   stride, r4
.Ltr_m0_lstm_unit:
    ldr    r4, [i_gate, stride]         /* f */
    ldr    r6, [c]                      /* c */
    uxth   r7, r6
    asrs   r6, r6, #16
    muls   r7, r4, r7
    muls   r6, r4, r6
    add    r7, round15
    lsrs   r7, r7, #15
    lsls   r6, r6, #1
    adds   r6, r6, r7                   /* round_shift(f c, 15) */
    ldmia  i_gate!, {r4}                /* i */
    ldr    r5, [g]                      /* g */
    muls   r5, r4, r5
    asrs   r5, r5, #15
    adds   r5, r5, #1
    asrs   r5, r5, #1                   /* round_shift(i g, 16) */
    adds   r5, r5, r6                   /* the new c */
    stmia  c!, {r5}
    add    r5, tanh_half                /* t */
    lsrs   r6, r5, #TR_ASM_TANH_SAT_BITS
    bne    .Ltr_m0_lstm_clamp
.Ltr_m0_lstm_in:
    tr_m0_lookup TR_ASM_TANH_SEG_BITS, cell   /* r6 = tanh(c) */
    ldr    r5, [g, stride]              /* o */
    muls   r5, r6, r5
    add    r5, round15
    asrs   r5, r5, #15
    mov    r6, h
    strh   r5, [r6]
    adds   r6, r6, #2
    mov    h, r6
    adds   g, g, #4
    cmp    i_gate, lr
    bne    .Ltr_m0_lstm_unit
    tr_m0_pop_high
    pop    {r4, r5, r6, r7, pc}
.Ltr_m0_lstm_ret:
    bx     lr
.Ltr_m0_lstm_clamp:
    tr_m0_clamp TR_ASM_TANH_SAT_BITS, cell
    b      .Ltr_m0_lstm_in
tr_m0_end tr_m0_lstm_update
    .unreq i_gate
    .unreq c
    .unreq g
    .unreq stride
    .unreq h
    .unreq tanh_seg
    .unreq tanh_half
    .unreq round15

#endif /* TR_FAST_PATH_ARMV6M */
