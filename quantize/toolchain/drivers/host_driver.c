/*
 * Host test driver: runs the generated model over sequences from a file, for the bit-exact tests.
 *
 * usage: host_driver INPUT OUTPUT
 * INPUT:  int32 n_sequences, int32 steps, then int16 x[n_sequences][steps][TINYRNN_INPUT_DIM]
 * OUTPUT: for every sequence (fresh state) and step: int32 y[TINYRNN_OUTPUT_DIM], int32 state[TINYRNN_STATE_WORDS]
 * All little-endian (host byte order). Exit status 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_data.h"

int main(int argc, char **argv)
{
    static int32_t state[TINYRNN_STATE_WORDS];
    static int32_t scratch[TINYRNN_SCRATCH_WORDS];
    int32_t header[2], y[TINYRNN_OUTPUT_DIM];
    int16_t x[TINYRNN_INPUT_DIM];
    FILE *in, *out;
    long seq, step;

    if (argc != 3) {
        fprintf(stderr, "usage: %s INPUT OUTPUT\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (!in || !out || fread(header, sizeof header, 1, in) != 1) {
        fprintf(stderr, "cannot open or read files\n");
        return 2;
    }
    for (seq = 0; seq < header[0]; seq++) {
        tinyrnn_reset(&tinyrnn_model, state);
        for (step = 0; step < header[1]; step++) {
            if (fread(x, sizeof x, 1, in) != 1) {
                fprintf(stderr, "short input\n");
                return 2;
            }
            memset(scratch, 0xA5, sizeof scratch);   /* scratch carries nothing between steps */
            tinyrnn_step(&tinyrnn_model, state, scratch, x, y);
            fwrite(y, sizeof y, 1, out);
            fwrite(state, sizeof state, 1, out);
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 1;
}
