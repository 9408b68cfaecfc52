# tinyrnn_c as a user C module (make): USER_C_MODULES=<this kit>/firmware/micropython (the folder above this one).
# The kernels are firmware/kernels/*.c, compiled in place; the model is loaded at run time (kernel_c.bin).
TINYRNN_NATIVE_DIR := $(USERMOD_DIR)
TINYRNN_KERNELS_DIR := $(realpath $(TINYRNN_NATIVE_DIR)/../../kernels)

SRC_USERMOD_C += $(TINYRNN_NATIVE_DIR)/tinyrnn_native.c
SRC_USERMOD_LIB_C += $(sort $(wildcard $(TINYRNN_KERNELS_DIR)/*.c))
CFLAGS_USERMOD += -I$(TINYRNN_KERNELS_DIR) -fno-tree-loop-distribute-patterns
