# tinyrnn_live: print what the model does, step by step, for `tinyrnn monitor` on the host.
#
# The lines (spec: docs/data-formats.md, "Live lines from a board"; the host's parser is
# host/formats/live_lines.py):
#
#   @tr start model=<16 hex digits> inputs=<d> outputs=<k> unit=<instructions|cycles|us>   once, at start
#   @tr step=<n> x=<d ints> y=<k ints> lat=<int>      per model step: the kernel inputs used, the raw outputs
#   @tr reset                                         when the state is zeroed (a new sequence or window)
#
#   import tinyrnn_model, tinyrnn_live, tinyrnn_input
#   model = tinyrnn_model.load()
#   live = tinyrnn_live.LiveLines(model, unit="us")     # time.ticks_us(): microseconds on a real board
#   fold = tinyrnn_live.InputFold(tinyrnn_input)        # raw sensor values -> kernel inputs, as push_float
#   out = model.output_buffer()
#   live.start()
#   for each sensor frame:
#       x = fold.push(frame)                            # None until DOWNSAMPLE frames are in
#       if x is not None:
#           t0 = time.ticks_us(); model.step(x, out); t1 = time.ticks_us()
#           live.step(x, out, time.ticks_diff(t1, t0))
#
# tinyrnn_input.py is generated per model (quantize/emit/micropython.py input_fold_module): the exported C
# library's push_float constants, so this board computes the same kernel inputs from the same raw values.

import sys

PREFIX = "@tr "
UNITS = ("instructions", "cycles", "us")


def _ints(values, n):
    return ",".join([str(values[i]) for i in range(n)])


class LiveLines:
    """Formats and writes live lines; write(text) defaults to sys.stdout.write."""

    def __init__(self, model, unit="us", write=None):
        if unit not in UNITS:
            raise ValueError("unit must be one of %s" % (UNITS,))
        self.model = model
        self.unit = unit
        self.write = write or sys.stdout.write
        self.steps = 0

    def start_line(self):
        m = self.model
        return "%sstart model=%s inputs=%d outputs=%d unit=%s\n" % (
            PREFIX, m.model_hash, m.input_dim, m.output_dim, self.unit)

    def step_line(self, n, x, y, latency):
        return "%sstep=%d x=%s y=%s lat=%d\n" % (
            PREFIX, n, _ints(x, self.model.input_dim), _ints(y, self.model.output_dim), latency)

    def start(self):
        self.steps = 0
        self.write(self.start_line())

    def reset(self):
        self.write(PREFIX + "reset\n")

    def step(self, x, y, latency):
        """One step's line, numbered from 0 since start(); the latency in this object's unit."""
        self.write(self.step_line(self.steps, x, y, latency))
        self.steps += 1


class InputFold:
    """Raw float frames -> int16 kernel inputs, exactly as the exported library's push_float (and `tinyrnn
    predict`): each value an integer of 2^-FLOAT_FRAC_BITS units, DOWNSAMPLE frames summed, then per channel
    sat16((sum * MULT + BIAS) >> SHIFT) (big integers: MicroPython's long ints)."""

    def __init__(self, constants):
        self.c = constants
        self.dim = len(constants.MULT)
        self.scale = float(1 << constants.FLOAT_FRAC_BITS)
        self.sums = [0] * self.dim
        self.frames = 0
        from array import array
        self.x = array("h", bytes(2 * self.dim))

    def reset(self):
        for i in range(self.dim):
            self.sums[i] = 0
        self.frames = 0

    def _raw(self, value):
        # the C library's <name>_float_raw: floor(v + 0.5), v itself above 2^23, clamped to +-2^30, NaN -> 0
        v = value * self.scale
        if v != v:
            return 0
        if v >= 1073741824.0:
            return 1073741824
        if v <= -1073741824.0:
            return -1073741824
        if v >= 8388608.0 or v <= -8388608.0:
            return int(v)
        w = v + 0.5
        i = int(w)
        return i - 1 if i > w else i

    def push(self, frame):
        """Add one frame (DIM raw values); the kernel inputs (an array('h'), reused) when a step is due, else
        None."""
        for i in range(self.dim):
            self.sums[i] += self._raw(frame[i])
        self.frames += 1
        if self.frames < self.c.DOWNSAMPLE:
            return None
        c = self.c
        for i in range(self.dim):
            v = (self.sums[i] * c.MULT[i] + c.BIAS[i]) >> c.SHIFT[i]
            self.x[i] = 32767 if v > 32767 else (-32768 if v < -32768 else v)
            self.sums[i] = 0
        self.frames = 0
        return self.x
