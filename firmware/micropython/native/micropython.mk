# tinyrnn_c as a user C module (make): USER_C_MODULES=<this kit>/firmware/micropython (the folder above this one).
# The kernels are firmware/kernels/kernels.mk's sources, compiled in place; the model is loaded at run time (kernel_c.bin).
TINYRNN_NATIVE_DIR := $(USERMOD_DIR)
TINYRNN_KERNELS_DIR := $(realpath $(TINYRNN_NATIVE_DIR)/../../kernels)
include $(TINYRNN_KERNELS_DIR)/kernels.mk
TINYRNN_KERNEL_SRC := $(filter %.c,$(TINYRNN_KERNEL_SRCS))
TINYRNN_KERNEL_ASM := $(filter %.S,$(TINYRNN_KERNEL_SRCS))

SRC_USERMOD_C += $(TINYRNN_NATIVE_DIR)/tinyrnn_native.c
SRC_USERMOD_LIB_C += $(TINYRNN_KERNEL_SRC)
SRC_USERMOD_LIB_ASM += $(TINYRNN_KERNEL_ASM)
CFLAGS_USERMOD += -I$(TINYRNN_KERNELS_DIR)

# The kernels only (not the whole firmware, as CFLAGS_USERMOD would): -O2 and no loop-to-memset rewriting. Most
# ports build with -Os, ~18% slower here on Cortex-M3 (measured: 20,017 vs 16,993 instructions per step).
# The object names are py/py.mk's for SRC_USERMOD_LIB_C.
$(addprefix $(BUILD)/, $(patsubst %.c,%.o,$(patsubst $(USER_C_MODULES)/%.c,%.c,$(TINYRNN_KERNEL_SRC)))): \
    CFLAGS += -O2 -fno-tree-loop-distribute-patterns
