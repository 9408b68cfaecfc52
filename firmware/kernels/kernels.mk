# The kernel sources every build compiles, for every target: the portable reference (*.c here) and each optimized
# path's folder (*/*.c, */*.S), whose files compile to nothing on targets the path does not apply to (tr_fast.h).
# The same rule as quantize/sources.py KERNEL_SOURCE_PATTERNS (tests/test_kernel_c.py checks that they agree).
# Set TINYRNN_KERNELS_DIR (this folder) before including it; TINYRNN_KERNEL_SRCS holds the sources under it.
TINYRNN_KERNEL_SRCS := $(sort $(wildcard $(TINYRNN_KERNELS_DIR)/*.c $(TINYRNN_KERNELS_DIR)/*/*.c \
                                         $(TINYRNN_KERNELS_DIR)/*/*.S))
