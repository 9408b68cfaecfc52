/*
 * Which kernel path a target takes: the one place that says so (tr_fast.h includes it for C, and each optimized
 * path's .S files for the assembler, so it holds #defines only). From the compiler's own target macros; the one
 * override, TINYRNN_PLAIN_C=1, forces the plain-C reference on any core (to compare, or for a compiler that cannot
 * build the assembly). Exactly one of the TR_FAST_PATH_* is 1, or none (the plain-C reference).
 */
#ifndef TR_FAST_PATH_H
#define TR_FAST_PATH_H

#if defined(TINYRNN_PLAIN_C) && TINYRNN_PLAIN_C
#define TR_FAST_PATH_ARM_DSP 0
#define TR_FAST_PATH_ARMV6M 0
#define TR_FAST_PATH_ARMV7M 0
#define TR_FAST_PATH_RV32 0
#define TR_KERNEL_PATH "c"
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TR_FAST_PATH_ARM_DSP 1          /* Cortex-M4/M7/M33: arm_dsp/ */
#define TR_FAST_PATH_ARMV6M 0
#define TR_FAST_PATH_ARMV7M 0
#define TR_FAST_PATH_RV32 0
#define TR_KERNEL_PATH "dsp"
#elif defined(__ARM_ARCH_6M__)
#define TR_FAST_PATH_ARM_DSP 0
#define TR_FAST_PATH_ARMV6M 1           /* Cortex-M0/M0+ (Thumb-1): armv6m/ */
#define TR_FAST_PATH_ARMV7M 0
#define TR_FAST_PATH_RV32 0
#define TR_KERNEL_PATH "m0"
#elif defined(__ARM_ARCH_7M__)
#define TR_FAST_PATH_ARM_DSP 0
#define TR_FAST_PATH_ARMV6M 0
#define TR_FAST_PATH_ARMV7M 1           /* Cortex-M3 (ARMv7-M without DSP): armv7m/ */
#define TR_FAST_PATH_RV32 0
#define TR_KERNEL_PATH "m3"
#elif defined(__riscv) && __riscv_xlen == 32 && defined(__riscv_mul)
#define TR_FAST_PATH_ARM_DSP 0
#define TR_FAST_PATH_ARMV6M 0
#define TR_FAST_PATH_ARMV7M 0
#define TR_FAST_PATH_RV32 1             /* RV32IM, RV32IMC, RV32IMAC: rv32/ */
#define TR_KERNEL_PATH "rv32"
#else
#define TR_FAST_PATH_ARM_DSP 0
#define TR_FAST_PATH_ARMV6M 0
#define TR_FAST_PATH_ARMV7M 0
#define TR_FAST_PATH_RV32 0
#define TR_KERNEL_PATH "c"              /* plain C: other cores and hosts */
#endif

#endif /* TR_FAST_PATH_H */
