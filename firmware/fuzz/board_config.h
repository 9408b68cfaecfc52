/* Board facts for the host fuzz target (firmware/fuzz): no hardware, just what commands.c reports in INFO. */
#ifndef TINYRNN_BOARD_CONFIG_H
#define TINYRNN_BOARD_CONFIG_H

#define BOARD_NAME "fuzz-host"
#define BOARD_CPU_CLOCK_HZ 1000000u
#define BOARD_COUNTER_UNIT 0
#define BOARD_COUNTER_HZ 1000000u

#endif
