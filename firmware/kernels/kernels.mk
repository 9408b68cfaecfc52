# The kernel sources every build compiles, for every target: the portable reference (*.c here) and each optimized
# path's folder (*/*.c, */*.S), whose files compile to nothing on targets the path does not apply to (tr_fast.h).
# The same rule as quantize/sources.py KERNEL_SOURCE_PATTERNS (tests/test_kernel_c.py checks that they agree).
# Set TINYRNN_KERNELS_DIR (this folder) before including it; TINYRNN_KERNEL_SRCS holds the sources under it.
TINYRNN_KERNEL_SRCS := $(sort $(wildcard $(TINYRNN_KERNELS_DIR)/*.c $(TINYRNN_KERNELS_DIR)/*/*.c \
                                         $(TINYRNN_KERNELS_DIR)/*/*.S))
# Of those, the unit an optimised rv32 build refers to nothing in: the sigmoid and tanh tables one word a segment
# (generated; the rv32 path reads its own form, rv32/tr_tables_rv32.c). A static library's link leaves it out by
# itself and a gc-sections link drops it; a build that compiles the rv32 path optimised and links with a linker that
# keeps every section (MicroPython's mpy_ld: the rv32imc natmod) filters it out of TINYRNN_KERNEL_SRCS. An -O0/-Og
# build keeps the plain-C loops behind the path's hooks, which read it: there it stays. quantize/sources.py
# SEGMENT_TABLES_SOURCE says the same.
TINYRNN_SEGMENT_TABLES_SRC := $(TINYRNN_KERNELS_DIR)/tr_tables_seg.c
