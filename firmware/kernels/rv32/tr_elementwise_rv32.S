/*
 * The RV32IM element-wise loops: the table activations over a vector (tr_activation.c) and the per-unit cell
 * updates of the GRU reset_after step (tr_gru.c) and the LSTM step (tr_lstm.c), which the C callers hand over whole
 * on this path (tr_fast_rv32.h declares them), the cell updates with their gates' activations (TR_FAST_CELL_GATES_RAW:
 * the gates' product leaves them Q14, and each gate value is looked up where it is used, not stored and reloaded).
 * Twin: quantize/twin/fixedpoint.py, quantize/twin/cells.py.
 *
 * Why assembly: GCC's code for these loops takes ~19 instructions a sigmoid and ~45 a GRU unit (a 64-bit product
 * rounded through a carry, the table word split by shifts, a pointer increment per array). Here four units (the
 * activations: two values) a turn share the increments, the constants stay in registers, a lookup's rare clamp is out of line (subsection 1),
 * and the same integers are formed:
 *  - table lookup (TR_SYMMETRIC_INTERP): t = z + 2^(sat-1) is the offset from the table's first input, so the
 *    segment i is t >> seg_bits (unsigned); t is in range exactly when i is below TR_ASM_TABLE_SEGMENTS (a negative
 *    t, or one that wrapped, reads as a large unsigned one). Out of range, the sign of z picks the end, t = 0 or
 *    2^sat - 1. The table is this path's own form (tr_sigmoid_pairs / tr_tanh_pairs: quantize/emit/c_code.py
 *    segment_pairs, which checks it exact): two words per segment, start' and rise, with (start' + rise t) >> s the
 *    twin's start + ((rise frac + 2^(s-1)) >> s): no mask of the fraction, no rounding add (10 instructions);
 *  - tr_add_gate_mul_q15(a, g, v) = a + ((g v + 2^14) >> 15) with 0 <= g < 2^15 (a sigmoid output; the tables'
 *    largest value is 32767): with u = g << 17 (< 2^32, read unsigned) the 64-bit product v u is g v 2^17, whose
 *    high word (MULHSU) is floor(g v / 2^15) and whose low word's bit 31 (MUL) is bit 14 of g v, the rounding;
 *  - the GRU update needs no sat16: with 0 <= z <= 2^15 - 1 and d = h - nj, (z d + 2^14) >> 15 lies between 0 and
 *    d inclusive, so the new h lies between nj and h, both int16 (the twin's sat16 never clamps there).
 * A count that is not a whole number of turns enters the first turn part-way (an activation's odd count at its second
 * value, a cell loop's count % 4 = 1, 2, 3 at its unit 3, 2, 1) with every pointer that many units back. The table
 * geometry comes from tr_layout.h (generated; tr_rv32_job.h checks it against tr_tables.h). Other targets assemble
 * this file to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_elementwise_rv32.S"

#if TR_FAST_PATH_RV32

/* A routine of its own section (the linker drops what is not called). */
.macro tr_rv32_function name
    .section .text.\name, "ax", @progbits
    .p2align 2
    .globl  \name
    .type   \name, @function
\name:
.endm

.macro tr_rv32_end name
    .size   \name, . - \name
.endm

/* TR_ASM_TABLE_SEGMENTS and 2^14 (the rounding of >> 15) in every routine; the cell loops' tables (arguments 5
 * and 6) and their 2^(sat-1). Defined before the macros: the preprocessor substitutes them there. */
#define segments a6
#define round15 a7
#define tanh_pairs a4
#define sigmoid_pairs a5
#define tanh_half s0
#define sigmoid_half s1

/* out = the table value (Q15) of the Q14 value z, by the table `table` (tr_*_pairs) of sat_bits / seg_bits whose
 * 2^(sat-1) is in register half. t, idx, rise work; out may be z (not t, idx or rise). */
.macro tr_rv32_lookup out, z, t, idx, rise, table, half, sat_bits, seg_bits
    add     \t, \z, \half
    srli    \idx, \t, \seg_bits
    bgeu    \idx, segments, .Lclamp\@
.Lin\@:
    slli    \idx, \idx, 3
    add     \idx, \idx, \table
    lw      \rise, 4(\idx)
    lw      \out, 0(\idx)               /* start' */
    mul     \rise, \rise, \t
    add     \out, \out, \rise
    srai    \out, \out, \seg_bits
    .subsection 1                       /* out of range: t = 0 for a negative z, else 2^sat - 1 */
.Lclamp\@:
    srai    \t, \z, 31
    not     \t, \t
    srli    \t, \t, (32 - \sat_bits)
    srli    \idx, \t, \seg_bits
    j       .Lin\@
    .subsection 0
.endm

.macro tr_rv32_sigmoid out, z, t, idx, rise
    tr_rv32_lookup \out, \z, \t, \idx, \rise, sigmoid_pairs, sigmoid_half, TR_ASM_SIGMOID_SAT_BITS, TR_ASM_SIGMOID_SEG_BITS
.endm

.macro tr_rv32_tanh out, z, t, idx, rise
    tr_rv32_lookup \out, \z, \t, \idx, \rise, tanh_pairs, tanh_half, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS
.endm

/* a + ((g v + 2^14) >> 15) into a (g is clobbered into g << 17, v into the high word; t works). */
.macro tr_rv32_add_gate_mul a, g, v, t
    slli    \g, \g, 17
    mul     \t, \v, \g
    mulhsu  \v, \v, \g
    srli    \t, \t, 31
    add     \a, \a, \v
    add     \a, \a, \t
.endm

/* void name(int32_t *z, int n, const int32_t *pairs): z[0..n) = act(z) in place (Q14 in, Q15 out) by the table
 * (tr_*_pairs) of sat_bits / seg_bits. Two values a turn: a0 the pair (advanced), a1 the end, a2 the table, a3 its
 * 2^(sat-1). */
.macro tr_rv32_activation name, sat_bits, seg_bits
tr_rv32_function \name
    blez    a1, .L\name\()_ret
    andi    t0, a1, 1                   /* an odd count */
    slli    a1, a1, 2
    add     a1, a1, a0                  /* end */
    li      a3, (1 << (\sat_bits - 1))
    li      segments, TR_ASM_TABLE_SEGMENTS
    beqz    t0, .L\name\()_first
    addi    a0, a0, -4                  /* odd: the first value as a pair's second */
    j       .L\name\()_second
.L\name\()_first:
    lw      t0, 0(a0)
    tr_rv32_lookup t0, t0, t1, t2, t3, a2, a3, \sat_bits, \seg_bits
    sw      t0, 0(a0)
.L\name\()_second:
    lw      t0, 4(a0)
    tr_rv32_lookup t0, t0, t1, t2, t3, a2, a3, \sat_bits, \seg_bits
    sw      t0, 4(a0)
    addi    a0, a0, 8
    bne     a0, a1, .L\name\()_first
.L\name\()_ret:
    ret
tr_rv32_end \name
.endm

tr_rv32_activation tr_rv32_sigmoid_q15, TR_ASM_SIGMOID_SAT_BITS, TR_ASM_SIGMOID_SEG_BITS
tr_rv32_activation tr_rv32_tanh_q15, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS

/* Prologue of the cell loops: s0..s3 saved, the constants set. */
.macro tr_rv32_cell_entry
    addi    sp, sp, -16
    sw      s0, 0(sp)
    sw      s1, 4(sp)
    sw      s2, 8(sp)
    sw      s3, 12(sp)
    li      tanh_half, (1 << (TR_ASM_TANH_SAT_BITS - 1))
    li      sigmoid_half, (1 << (TR_ASM_SIGMOID_SAT_BITS - 1))
    li      segments, TR_ASM_TABLE_SEGMENTS
    li      round15, (1 << 14)
.endm

.macro tr_rv32_cell_exit
    lw      s0, 0(sp)
    lw      s1, 4(sp)
    lw      s2, 8(sp)
    lw      s3, 12(sp)
    addi    sp, sp, 16
.endm

/* void tr_rv32_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_pairs,
 *                         const int32_t *sigmoid_pairs):
 * the GRU reset_after cell update of count units from z (tr_gru.c), z and r still Q14 pre-activations: with r, n, c
 * at z + units, + 2 units, + 3 units, pre = n + round_shift(sigmoid(r) c, 15), nj = tanh(pre),
 * h = nj + ((sigmoid(z) (h - nj) + 2^14) >> 15) (= its sat16: above). Four units a turn: a0 z, s2 r, t6 n, a3 c,
 * a1 h (advanced), a2 the end of z. */
#define zp a0
#define hp a1
#define z_end a2
#define cp a3
#define rp s2
#define np t6

/* Unit k of the turn: the registers t0..t4 work. */
.macro tr_rv32_gru_unit k
    lw      t0, (4 * \k)(rp)
    tr_rv32_sigmoid t0, t0, t1, t2, t3  /* r */
    lw      t1, (4 * \k)(cp)            /* c */
    lw      t2, (4 * \k)(np)            /* n */
    tr_rv32_add_gate_mul t2, t0, t1, t3 /* pre */
    tr_rv32_tanh t0, t2, t1, t3, t4     /* nj */
    lw      t2, (4 * \k)(zp)
    tr_rv32_sigmoid t2, t2, t1, t3, t4  /* z */
    lh      t1, (2 * \k)(hp)            /* h */
    sub     t1, t1, t0
    mul     t1, t1, t2
    add     t1, t1, round15
    srai    t1, t1, 15
    add     t1, t1, t0                  /* the new h, in range (no sat16: above) */
    sh      t1, (2 * \k)(hp)
.endm

tr_rv32_function tr_rv32_gru_update
    blez    a2, .Ltr_rv32_gru_ret
    tr_rv32_cell_entry
    slli    a3, a3, 2                   /* 4 units: bytes from z to r, r to n, n to c */
    add     rp, zp, a3
    add     np, rp, a3
    add     cp, np, a3
    andi    t1, a2, 3                   /* the count's units past whole turns */
    slli    a2, a2, 2
    add     z_end, z_end, zp
    beqz    t1, .Ltr_rv32_gru_turn
    li      t2, 4                       /* else the first turn enters at unit 4 - t1, every pointer that many back */
    sub     t2, t2, t1
    slli    t3, t2, 2
    sub     zp, zp, t3
    sub     rp, rp, t3
    sub     np, np, t3
    sub     cp, cp, t3
    slli    t3, t2, 1
    sub     hp, hp, t3
    li      t0, 2
    blt     t2, t0, .Ltr_rv32_gru_unit1
    beq     t2, t0, .Ltr_rv32_gru_unit2
    j       .Ltr_rv32_gru_unit3
.Ltr_rv32_gru_turn:
    tr_rv32_gru_unit 0
.Ltr_rv32_gru_unit1:
    tr_rv32_gru_unit 1
.Ltr_rv32_gru_unit2:
    tr_rv32_gru_unit 2
.Ltr_rv32_gru_unit3:
    tr_rv32_gru_unit 3
    addi    zp, zp, 16
    addi    rp, rp, 16
    addi    np, np, 16
    addi    cp, cp, 16
    addi    hp, hp, 8
    bne     zp, z_end, .Ltr_rv32_gru_turn
    tr_rv32_cell_exit
.Ltr_rv32_gru_ret:
    ret
tr_rv32_end tr_rv32_gru_update

#undef zp
#undef hp
#undef z_end
#undef cp
#undef rp
#undef np

/* void tr_rv32_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_pairs,
 *                          const int32_t *sigmoid_pairs):
 * the LSTM cell update of units units (tr_lstm.c), the gates still Q14 pre-activations: with f, g, o at
 * i + units, + 2 units, + 3 units (i, f, o through the sigmoid, g through tanh), c = round_shift(i g, 16)
 * + round_shift(f c, 15) (int64 product), h = (o tanh(c) + 2^14) >> 15. Four units a turn: a0 i, t5 f, t6 g, s2 o,
 * a3 c, a2 h (advanced), a1 the end of i; s3 2^15 (the rounding of >> 16). */
#define ip a0
#define i_end a1
#define hp a2
#define cp a3
#define fp_ t5
#define gp_ t6
#define op s2
#define round16 s3

/* Unit k of the turn: the registers t0..t4 work. */
.macro tr_rv32_lstm_unit k
    lw      t0, (4 * \k)(ip)
    tr_rv32_sigmoid t0, t0, t1, t2, t3  /* i */
    lw      t1, (4 * \k)(gp_)
    tr_rv32_tanh t1, t1, t2, t3, t4     /* g */
    mul     t0, t0, t1
    add     t0, t0, round16
    srai    t0, t0, 16                  /* round_shift(i g, 16) */
    lw      t1, (4 * \k)(fp_)
    tr_rv32_sigmoid t1, t1, t2, t3, t4  /* f */
    lw      t2, (4 * \k)(cp)            /* c */
    tr_rv32_add_gate_mul t0, t1, t2, t3 /* the new c */
    sw      t0, (4 * \k)(cp)
    tr_rv32_tanh t1, t0, t2, t3, t4     /* tanh(c) */
    lw      t0, (4 * \k)(op)
    tr_rv32_sigmoid t0, t0, t2, t3, t4  /* o */
    mul     t0, t0, t1
    add     t0, t0, round15
    srai    t0, t0, 15
    sh      t0, (2 * \k)(hp)
.endm

tr_rv32_function tr_rv32_lstm_update
    blez    a1, .Ltr_rv32_lstm_ret
    tr_rv32_cell_entry
    li      round16, (1 << 15)
    andi    t1, a1, 3                   /* the units past whole turns */
    slli    a1, a1, 2                   /* 4 units: bytes from i to f, f to g, g to o */
    add     fp_, ip, a1
    add     gp_, fp_, a1
    add     op, gp_, a1
    add     i_end, i_end, ip
    beqz    t1, .Ltr_rv32_lstm_turn
    li      t2, 4                       /* else the first turn enters at unit 4 - t1, every pointer that many back */
    sub     t2, t2, t1
    slli    t3, t2, 2
    sub     ip, ip, t3
    sub     fp_, fp_, t3
    sub     gp_, gp_, t3
    sub     op, op, t3
    sub     cp, cp, t3
    slli    t3, t2, 1
    sub     hp, hp, t3
    li      t0, 2
    blt     t2, t0, .Ltr_rv32_lstm_unit1
    beq     t2, t0, .Ltr_rv32_lstm_unit2
    j       .Ltr_rv32_lstm_unit3
.Ltr_rv32_lstm_turn:
    tr_rv32_lstm_unit 0
.Ltr_rv32_lstm_unit1:
    tr_rv32_lstm_unit 1
.Ltr_rv32_lstm_unit2:
    tr_rv32_lstm_unit 2
.Ltr_rv32_lstm_unit3:
    tr_rv32_lstm_unit 3
    addi    ip, ip, 16
    addi    fp_, fp_, 16
    addi    gp_, gp_, 16
    addi    op, op, 16
    addi    cp, cp, 16
    addi    hp, hp, 8
    bne     ip, i_end, .Ltr_rv32_lstm_turn
    tr_rv32_cell_exit
.Ltr_rv32_lstm_ret:
    ret
tr_rv32_end tr_rv32_lstm_update

#endif /* TR_FAST_PATH_RV32 */
