# tinyrnn_c as a user C module (CMake ports: rp2, esp32): USER_C_MODULES=<this kit>/firmware/micropython/native/micropython.cmake
# The kernels are firmware/kernels/kernels.mk's sources (the same globs here), compiled in place; the model is loaded at run time (kernel_c.bin).
add_library(usermod_tinyrnn INTERFACE)

get_filename_component(TINYRNN_KERNELS_DIR ${CMAKE_CURRENT_LIST_DIR}/../../kernels REALPATH)
file(GLOB TINYRNN_KERNEL_SOURCES ${TINYRNN_KERNELS_DIR}/*.c ${TINYRNN_KERNELS_DIR}/*/*.c ${TINYRNN_KERNELS_DIR}/*/*.S)

target_sources(usermod_tinyrnn INTERFACE ${CMAKE_CURRENT_LIST_DIR}/tinyrnn_native.c ${TINYRNN_KERNEL_SOURCES})
target_include_directories(usermod_tinyrnn INTERFACE ${TINYRNN_KERNELS_DIR})
# The kernels only: -O2 (ports build -Os, ~18% slower on Cortex-M3), no loop-to-memset rewriting.
set_source_files_properties(${TINYRNN_KERNEL_SOURCES} PROPERTIES COMPILE_OPTIONS "-O2;-fno-tree-loop-distribute-patterns")

target_link_libraries(usermod INTERFACE usermod_tinyrnn)
