"""Sample lines for `tinyrnn record` from a MicroPython board: read the sensor at its rate, print one line each.

The host runs `tinyrnn record --port <the board's port> --label walking --seconds 10 --out my_data.csv`; this
script prints what it records with tinyrnn_model's sample_line, header_line and rate_line (docs/data-formats.md,
"Sample lines from a board").

read_sensor() is the one function to replace on a real board: your sensor driver (and RATE_HZ, CHANNELS yours).
On the emulated boards there is no sensor: recorded_signal, a RECORDED signal (test sequences of a model), stands
in for it, replayed at its rate, sequence after sequence; the header and the rate are printed again at every
second, so a host that opens the port late still gets them.
"""
import sys
import time

import recorded_signal          # the stand-in for a sensor on an emulated board; on yours: your driver
import tinyrnn_model

RATE_HZ = recorded_signal.RATE_HZ
CHANNELS = recorded_signal.CHANNELS


def read_sensor(i):
    """Sample i of the stand-in sensor (a list of floats, one per channel). On a real board, read your sensor."""
    return recorded_signal.frame(i)


def run(passes=0):
    """Print samples at RATE_HZ: `passes` times through the recorded signal (0: forever)."""
    period_us = int(1_000_000 / RATE_HZ)
    starts = recorded_signal.STARTS
    every = max(1, int(RATE_HZ))
    due = time.ticks_us()
    done = 0
    while passes == 0 or done < passes:
        for i in range(recorded_signal.COUNT):
            if i in starts:
                label = recorded_signal.LABELS[starts.index(i)]
                sys.stdout.write("# recorded_signal: a recorded stand-in for a sensor; next sequence label="
                                 + label + "\n")
            if i % every == 0:        # once a second: a host that opens the port late still gets them
                sys.stdout.write(tinyrnn_model.rate_line(RATE_HZ))
                sys.stdout.write(tinyrnn_model.header_line(CHANNELS))
            while time.ticks_diff(due, time.ticks_us()) > 0:
                pass                # wait for the sample time (a real board may sleep: time.sleep_us)
            due = time.ticks_add(due, period_us)
            sys.stdout.write(tinyrnn_model.sample_line(read_sensor(i)))
        done += 1
