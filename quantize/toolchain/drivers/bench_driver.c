/*
 * Bare-metal driver for the emulator runs of quantize/toolchain/bench.py (unicorn, no peripherals).
 *
 * The host writes int16 inputs to tinyrnn_bench_io.x, sets .steps, and calls tinyrnn_bench_run or
 * tinyrnn_bench_step; outputs land in .y. The stack pointer is set up by the host.
 */
#include "model_data.h"

#define BENCH_MAX_STEPS 64

struct bench_io {
    int32_t steps;                                          /* steps to run */
    int32_t state[TINYRNN_STATE_WORDS];                     /* model state, kept between calls */
    int32_t scratch[TINYRNN_SCRATCH_WORDS];                 /* scratch */
    int16_t x[BENCH_MAX_STEPS][TINYRNN_INPUT_DIM];          /* inputs */
    int32_t y[BENCH_MAX_STEPS][TINYRNN_OUTPUT_DIM];         /* outputs */
};

struct bench_io tinyrnn_bench_io;

void tinyrnn_bench_reset(void);
void tinyrnn_bench_run(void);

void tinyrnn_bench_reset(void)
{
    tinyrnn_reset(&tinyrnn_model, tinyrnn_bench_io.state);
}

void tinyrnn_bench_run(void)
{
    int32_t t;
    for (t = 0; t < tinyrnn_bench_io.steps; t++) {
        tinyrnn_step(&tinyrnn_model, tinyrnn_bench_io.state, tinyrnn_bench_io.scratch,
                     tinyrnn_bench_io.x[t], tinyrnn_bench_io.y[t]);
    }
}
