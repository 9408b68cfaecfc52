# MicroPython's qemu port on QEMU's RISC-V virt machine: the port's own VIRT_RV32 board, built for a multilib that
# Debian's riscv64-unknown-elf-gcc 12 has. The port asks for -march=rv32imac_zicsr, which matches none of Debian's
# rv32 multilibs: the link then takes the rv64 libgcc/picolibc and fails. Under ISA spec 2.2 the CSR instructions
# belong to I, so -march=rv32imac -misa-spec=2.2 is the same instruction set with the rv32imac/ilp32 libraries.
include $(TOP)/ports/qemu/boards/VIRT_RV32/mpconfigboard.mk

RV32_ARCH = rv32imac
AFLAGS += -misa-spec=2.2
LDFLAGS += -misa-spec=2.2
