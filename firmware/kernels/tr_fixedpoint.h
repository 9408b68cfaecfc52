/*
 * Fixed-point helpers shared by the tinyrnn kernels, written once (docs/quantization.md, "Notation").
 * Python twin: quantize/twin/fixedpoint.py (same names).
 *
 * Every right shift of a negative signed value here is arithmetic (flooring). C99 leaves that to the
 * implementation; the typedefs below refuse to compile where it does not hold.
 */
#ifndef TR_FIXEDPOINT_H
#define TR_FIXEDPOINT_H

#include <stdint.h>

typedef char tr_requires_arithmetic_shift32[((int32_t)-1 >> 1) == -1 ? 1 : -1];
typedef char tr_requires_arithmetic_shift64[((int64_t)-1 >> 1) == -1 ? 1 : -1];

/* Clamp to [-32768, 32767]. */
static inline int32_t tr_sat16(int32_t v)
{
    return v < -32768 ? -32768 : (v > 32767 ? 32767 : v);
}

/* Clamp to [lo, hi]. */
static inline int32_t tr_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* (a + 2^(s-1)) >> s: divide by 2^s, rounding half up. 1 <= s <= 30, a + 2^(s-1) must not overflow. */
static inline int32_t tr_round_shift(int32_t a, int s)
{
    return (a + ((int32_t)1 << (s - 1))) >> s;
}

/* The same on int64 (products of a Q15 gate and an int32 Q14 value); the result must fit int32. */
static inline int32_t tr_round_shift64(int64_t a, int s)
{
    return (int32_t)((a + ((int64_t)1 << (s - 1))) >> s);
}

/* Q14 pre-activation: (bias + acc_a * mult_a + acc_b * mult_b) >> 32 in int64 (bias holds the rounding).
 * On Thumb-2 cores (Cortex-M3/M4/M7) this is two SMLAL into one 64-bit accumulator whose high word is
 * the result; written out because GCC 12 sometimes falls back to a full 64 x 64 multiply. */
static inline int32_t tr_requant_q14(int64_t bias, int32_t acc_a, int32_t mult_a, int32_t acc_b, int32_t mult_b)
{
#if defined(__thumb2__)
    uint32_t lo = (uint32_t)bias;
    int32_t hi = (int32_t)(bias >> 32);
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(acc_a), "r"(mult_a));
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(acc_b), "r"(mult_b));
    return hi;
#elif defined(__riscv) && __riscv_xlen == 32
    /* RV32IM: each product is MUL + MULH, and only the high word of the sum is kept: the low words' carries
     * (an unsigned compare each) go into it, with no test of a zero multiplier (a branch costs as much). */
    const int64_t product_a = (int64_t)acc_a * mult_a, product_b = (int64_t)acc_b * mult_b;
    uint32_t lo = (uint32_t)bias + (uint32_t)product_a;
    int32_t hi = (int32_t)(bias >> 32) + (int32_t)(product_a >> 32) + (lo < (uint32_t)product_a);
    lo += (uint32_t)product_b;
    return hi + (int32_t)(product_b >> 32) + (lo < (uint32_t)product_b);
#else
    int64_t total = bias;
    if (mult_a != 0) {          /* a zero multiplier (no such input; the GRU candidate's fused rows) skips */
        total += (int64_t)acc_a * mult_a;   /* the product: Cortex-M0 calls a 64-bit multiply helper for it */
    }
    if (mult_b != 0) {
        total += (int64_t)acc_b * mult_b;
    }
    return (int32_t)(total >> 32);
#endif
}

/* a + round_shift(g * v, 15) with the product in int64: a Q14 value plus a gate g (Q15, 0 <= g < 2^15) times
 * a Q14 value v; the result must fit int32. With the DSP extension one SMMLAR: with gs = g << 17 read as a
 * signed word (gs = g 2^17 - 2^32 when g >= 2^14), (2^32 (a + (v if g >= 2^14)) + v gs + 2^31) >> 32 is
 * a + ((g v + 2^14) >> 15) exactly (the architecture forms the sum in full before taking the high word). */
static inline int32_t tr_add_gate_mul_q15(int32_t a, int32_t g, int32_t v)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t gs, t, out;
    __asm__("lsl    %1, %3, #17\n\t"
            "and    %2, %4, %1, asr #31\n\t"
            "add    %2, %2, %5\n\t"
            "smmlar %0, %4, %1, %2"
            : "=r"(out), "=&r"(gs), "=&r"(t) : "r"(g), "r"(v), "r"(a));
    return out;
#elif defined(__ARM_ARCH_6M__)
    /* Cortex-M0/M0+ (no 32 x 32 -> 64 multiply): v = 2^16 vh + vl (vl = v & 0xFFFF), and since g vh 2^16 is a
     * multiple of 2^15, (g v + 2^14) >> 15 = 2 g vh + ((g vl + 2^14) >> 15); g vl + 2^14 < 2^31 and
     * |2 g vh| < 2^31, so two MULS replace the 64-bit multiply helper. */
    const int32_t low = (int32_t)(((uint32_t)g * ((uint32_t)v & 0xFFFFu) + 16384u) >> 15);
    return a + (2 * g * (v >> 16) + low);
#else
    return a + tr_round_shift64((int64_t)g * v, 15);
#endif
}

/* x * y + k (int32, must not overflow): one MLA on Thumb-2 cores, where GCC 12 otherwise takes MUL and an
 * ADD of the immediate k inside loops. */
static inline int32_t tr_mla(int32_t x, int32_t y, int32_t k)
{
#if defined(__thumb2__)
    int32_t out;
    __asm__("mla %0, %1, %2, %3" : "=r"(out) : "r"(x), "r"(y), "r"(k));
    return out;
#else
    return x * y + k;
#endif
}

/* y0 + round_shift((y1 - y0) * frac, seg_bits): linear interpolation inside one table segment. */
static inline int32_t tr_interp(int32_t y0, int32_t y1, int32_t frac, int seg_bits)
{
    return y0 + tr_round_shift((y1 - y0) * frac, seg_bits);
}

/* Table activations element by element (docs/quantization.md, "Activations"); tr_activation.c has the
 * vector forms, the gate code uses these inline. */
/* Clamp z to [-2^(bits-1), 2^(bits-1) - 1]: one SSAT where the core has it (Cortex-M3 and up). */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#define TR_SAT_BITS(z, bits) __ssat((z), (bits))
#else
#define TR_SAT_BITS(z, bits) tr_clamp((z), -((int32_t)1 << ((bits) - 1)), ((int32_t)1 << ((bits) - 1)) - 1)
#endif

/* The symmetric tables (range [-2^(sat_bits-1), 2^(sat_bits-1)) in Q14), one int32 word per segment (tr_tables.h
 * tr_*_seg: the start value T[i] in the low halfword, the rise T[i+1] - T[i] in the high one): the clamp is a
 * saturation, and the index is taken from the word for z = 0 (`mid`, entry 2^(sat_bits-1-seg_bits)) so the
 * signed segment number needs no offset (the offset 2^(sat_bits-1) is a whole number of segments, so the
 * fraction is the same). y = T[i] + round_shift(rise * frac, seg_bits), as tr_interp. One load per lookup.
 * The one definition: tr_activation.c, and the tanh inside the GRU and LSTM cell loops. */
typedef char tr_requires_int16_conversion_modulo[(int16_t)(int32_t)0x12348000 == -32768 ? 1 : -1];
#define TR_SYMMETRIC_INTERP(seg, sat_bits, seg_bits, z, out)                                     \
    do {                                                                                           \
        const int32_t *const mid_ = (seg) + ((int32_t)1 << ((sat_bits) - 1 - (seg_bits)));        \
        const int32_t s_ = TR_SAT_BITS((z), (sat_bits));                                           \
        const int32_t w_ = mid_[s_ >> (seg_bits)];                                                 \
        (out) = (int32_t)(int16_t)w_                                                               \
                + tr_round_shift((w_ >> 16) * (s_ & ((1 << (seg_bits)) - 1)), (seg_bits));        \
    } while (0)

#endif /* TR_FIXEDPOINT_H */
