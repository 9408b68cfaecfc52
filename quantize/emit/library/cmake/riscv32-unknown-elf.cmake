# CMake toolchain file for a bare 32-bit RISC-V core with Debian's riscv64-unknown-elf-gcc (multilib: rv32).
#   cmake -S . -B build-rv32 -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32-unknown-elf.cmake -DTINYRNN_RISCV_ARCH=rv32imc
# The library takes its plain-C path here. -ffreestanding: the library needs only the compiler's own stdint.h, so
# no C library (picolibc, newlib) has to be installed; drop it if your project links one.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_CXX_COMPILER riscv64-unknown-elf-g++)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(TINYRNN_RISCV_ARCH "rv32imc" CACHE STRING "-march (rv32imc, rv32imac, ...)")
set(TINYRNN_RISCV_ABI "ilp32" CACHE STRING "-mabi (ilp32; ilp32f with an F extension)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TINYRNN_RISCV_ARCH TINYRNN_RISCV_ABI)
set(CMAKE_C_FLAGS_INIT "-march=${TINYRNN_RISCV_ARCH} -mabi=${TINYRNN_RISCV_ABI} -mcmodel=medany -ffreestanding")
