# tinyrnn for MicroPython: the fixed-point step kernel, bit-exact with the C kernels (firmware/kernels/)
# and their numpy twin (quantize/twin/cells.py). Spec: docs/quantization.md; usage: its "MicroPython" section.
#
#   import tinyrnn_mp
#   model = tinyrnn_mp.Model("kernel.bin", "tables.bin")
#   model.reset()
#   y = model.step(x_q)        # x_q: input_dim ints (int16, Q(input_frac_bits)) -> output_dim ints
#
# kernel.bin: the model (tinyrnn export). tables.bin: the activation tables
# (tinyrnn export --tables OUT), shipped rather than recomputed because a board's floats may be
# single precision. Pure integer arithmetic: MicroPython ints grow as needed, and the spec keeps every
# intermediate inside int64, so nothing here emulates a wrap. Arrays are read in the machine's byte order:
# the files are little-endian, as every MicroPython target is (ARM, Xtensa, RISC-V, x86).
# Every function mirrors the twin's function of the same name.

import struct
from array import array

try:
    import hashlib
except ImportError:         # ports without hashlib: no model_hash
    hashlib = None

KERNEL_BIN_MAGIC = b"TRNK"
KERNEL_BIN_FORMAT = 1
KERNEL_SPEC_VERSION = 1
TABLES_BIN_MAGIC = b"TRNA"
TABLES_BIN_FORMAT = 1

CELL_KINDS = ("gru_reset_after", "gru_reset_before", "lstm")   # cell id -> kind (quantize/twin/params.py CELL_IDS)
HEAD_KINDS = ("softmax", "linear")                              # head id -> kind
DENSE_NAMES = {
    "gru_reset_after": ("gates", "candidate", "candidate_recurrent"),
    "gru_reset_before": ("gates", "candidate"),
    "lstm": ("gates",),
}

INT16_MIN = -32768
INT16_MAX = 32767
REQUANT_SHIFT = 32
PROB_FRAC_BITS = 15
PREACT_FRAC_BITS = 14
EXP_ONE_Q15 = 1 << PROB_FRAC_BITS


class _Reader:
    """Reads a little-endian file field by field, hashing every byte (kernel.bin's hash is its SHA-256)."""

    def __init__(self, f, want_hash):
        self.f = f
        self.pos = 0
        self.sha = hashlib.sha256() if (want_hash and hashlib is not None) else None

    def read(self, n):
        data = self.f.read(n)
        if len(data) != n:
            raise ValueError("file truncated at byte %d" % self.pos)
        self.pos += n
        if self.sha is not None:
            self.sha.update(data)
        return data

    def unpack(self, fmt):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))

    def array(self, typecode, count):
        """`count` entries into a new array (its raw bytes read straight from the file)."""
        size = struct.calcsize(typecode)
        arr = array(typecode, bytes(count * size))
        if count:
            if self.f.readinto(arr) != count * size:
                raise ValueError("file truncated at byte %d" % self.pos)
            self.pos += count * size
            if self.sha is not None:
                self.sha.update(arr)
        return arr

    def pad4(self):
        self.read(-self.pos % 4)


# ---- fixed-point helpers and activations (quantize/twin/fixedpoint.py) ---------------------------------

def sat16(v):
    """Clamp to the int16 range."""
    if v < INT16_MIN:
        return INT16_MIN
    if v > INT16_MAX:
        return INT16_MAX
    return v


def round_shift(a, s):
    """(a + 2^(s-1)) >> s: division by 2^s rounding half up (>> floors, like the C's arithmetic shift)."""
    return (a + (1 << (s - 1))) >> s


class Table:
    """A 513-entry activation table over a Q14 input range, 2^seg_bits inputs per segment."""

    def __init__(self, values, lo, seg_bits):
        self.values = values
        self.lo = lo
        self.seg_bits = seg_bits
        self.hi = lo + ((len(values) - 1) << seg_bits)
        self.mask = (1 << seg_bits) - 1


SIGMOID = None      # Table objects, set by load_tables()
TANH = None
EXP = None


def load_tables(path="tables.bin"):
    """Load the activation tables (written by tinyrnn export --tables) into SIGMOID, TANH, EXP."""
    global SIGMOID, TANH, EXP
    with open(path, "rb") as f:
        r = _Reader(f, False)
        if r.read(4) != TABLES_BIN_MAGIC:
            raise ValueError("%s is not a tinyrnn tables.bin" % path)
        fmt, spec, count, _ = r.unpack("<BBBB")
        if fmt != TABLES_BIN_FORMAT or spec != KERNEL_SPEC_VERSION or count != 3:
            raise ValueError("%s: format %d, spec version %d, %d tables; this code reads format %d, spec %d"
                             % (path, fmt, spec, count, TABLES_BIN_FORMAT, KERNEL_SPEC_VERSION))
        tables = []
        for _ in range(count):
            lo, seg_bits, typecode, entries = r.unpack("<iBBH")
            tables.append(Table(r.array(chr(typecode), entries), lo, seg_bits))
            r.pad4()
    SIGMOID, TANH, EXP = tables


def table_interp(table, z):
    """Linear interpolation in `table` at Q14 input z (clamped to the table's range)."""
    if z < table.lo:
        z = table.lo
    elif z > table.hi - 1:
        z = table.hi - 1
    t = z - table.lo
    i = t >> table.seg_bits
    frac = t & table.mask
    y0 = table.values[i]
    y1 = table.values[i + 1]
    return y0 + round_shift((y1 - y0) * frac, table.seg_bits)


def sigmoid_q15(z):
    """sigmoid of a Q14 pre-activation, Q15 (0..32767)."""
    return table_interp(SIGMOID, z)


def tanh_q15(z):
    """tanh of a Q14 pre-activation, Q15 (-32768..32767)."""
    return table_interp(TANH, z)


def exp_neg_q15(d):
    """exp(d) for a Q14 d <= 0, unsigned Q15 (0..32768); exactly 32768 for d >= 0."""
    if d >= 0:
        return EXP_ONE_Q15
    return table_interp(EXP, d)        # d <= -1 here, as the twin's minimum(d, -1)


def softmax_q15(logits):
    """Q14 logits -> Q15 probabilities (0..32768)."""
    top = max(logits)
    e = [exp_neg_q15(v - top) for v in logits]
    total = sum(e)
    return [((v << PROB_FRAC_BITS) + (total >> 1)) // total for v in e]


# ---- one matrix-vector product + requantisation (quantize/twin/params.py Dense) ------------------------

class Dense:
    """out[j] = (B[j] + (Wa a)[j] * Ma[j] + (Wb b)[j] * Mb[j]) >> 32, Q14. Weights int8, row-major."""

    def __init__(self, r):
        self.rows, self.cols_a, self.cols_b, _ = r.unpack("<HHHH")
        self.bias = r.array("q", self.rows)
        self.mult_a = r.array("i", self.rows)
        self.mult_b = r.array("i", self.rows)
        self.weights_a = self._row_views(r.array("b", self.rows * self.cols_a), self.cols_a)
        self.weights_b = self._row_views(r.array("b", self.rows * self.cols_b), self.cols_b)
        r.pad4()

    def _row_views(self, flat, cols):
        view = memoryview(flat)
        return [view[j * cols:(j + 1) * cols] for j in range(self.rows)]

    def product(self, a, b=None):
        """Q14 pre-activations (list of rows ints) for input vectors a (cols_a) and b (cols_b)."""
        out = []
        for j in range(self.rows):
            acc_a = 0
            for w, v in zip(self.weights_a[j], a):
                acc_a += w * v
            acc_b = 0
            if self.cols_b:
                for w, v in zip(self.weights_b[j], b):
                    acc_b += w * v
            out.append((self.bias[j] + acc_a * self.mult_a[j] + acc_b * self.mult_b[j]) >> REQUANT_SHIFT)
        return out


# ---- cells (quantize/twin/cells.py; firmware/kernels/tr_gru.c, tr_lstm.c, tr_head.c) ------------------

def tr_gru_step(layer, reset_after, x, h):
    """One GRU step: x in Q(fx), h Q15 (lists) -> new h Q15."""
    units = len(h)
    gates = layer["gates"].product(x, h)                     # z, r pre-activations, Q14
    z = [sigmoid_q15(v) for v in gates[:units]]
    r = [sigmoid_q15(v) for v in gates[units:]]
    if reset_after:
        a = layer["candidate"].product(x)                    # W_n x + b_in, Q14
        c = layer["candidate_recurrent"].product(h)          # U_n h + b_hn, Q14
        n = [tanh_q15(a[j] + ((r[j] * c[j] + (1 << 14)) >> 15)) for j in range(units)]
    else:
        rh = [round_shift(r[j] * h[j], 15) for j in range(units)]     # r * h, Q15
        n = [tanh_q15(v) for v in layer["candidate"].product(x, rh)]
    return [sat16(n[j] + round_shift(z[j] * (h[j] - n[j]), 15)) for j in range(units)]


def tr_lstm_step(layer, x, h, c):
    """One LSTM step: x in Q(fx), h Q15, c Q14 (lists) -> (new h Q15, new c Q14)."""
    units = len(h)
    pre = layer["gates"].product(x, h)
    h_new = []
    c_new = []
    for j in range(units):
        i = sigmoid_q15(pre[j])
        f = sigmoid_q15(pre[units + j])
        g = tanh_q15(pre[2 * units + j])
        o = sigmoid_q15(pre[3 * units + j])
        cj = round_shift(f * c[j], 15) + round_shift(i * g, 16)   # Q15 x Q14 -> Q14, Q15 x Q15 -> Q14
        c_new.append(cj)
        h_new.append(round_shift(o * tanh_q15(cj), 15))
    return h_new, c_new


def tr_head(model, h):
    """Head over the last layer's h: softmax Q15 probabilities or linear Q14 outputs."""
    logits = model.head.product(h)
    return softmax_q15(logits) if model.head_kind == "softmax" else logits


# ---- the model (quantize/twin/cells.py TwinModel; firmware/kernels/tr_model.c) --------------------------

class Model:
    """A kernel.bin model. reset() zeroes the state; step(x_q) runs one timestep and returns the outputs."""

    def __init__(self, kernel_path="kernel.bin", tables_path="tables.bin"):
        if tables_path is not None or SIGMOID is None:     # None: keep the tables already loaded
            load_tables(tables_path or "tables.bin")
        with open(kernel_path, "rb") as f:
            r = _Reader(f, True)
            if r.read(4) != KERNEL_BIN_MAGIC:
                raise ValueError("%s is not a tinyrnn kernel.bin" % kernel_path)
            fmt, spec, cell_id, head_id, num_layers, _ = r.unpack("<BBBBBB")
            if fmt != KERNEL_BIN_FORMAT or spec != KERNEL_SPEC_VERSION:
                raise ValueError("%s: format %d, spec version %d; this code reads format %d, spec %d"
                                 % (kernel_path, fmt, spec, KERNEL_BIN_FORMAT, KERNEL_SPEC_VERSION))
            if cell_id >= len(CELL_KINDS) or head_id >= len(HEAD_KINDS):
                raise ValueError("%s: unknown cell %d or head %d" % (kernel_path, cell_id, head_id))
            self.cell_kind = CELL_KINDS[cell_id]
            self.head_kind = HEAD_KINDS[head_id]
            self.input_dim, self.units, self.output_dim, self.input_frac_bits, _ = r.unpack("<HHHBB")
            d = self.input_dim
            self.norm_mean = r.unpack("<%df" % d)
            self.norm_std = r.unpack("<%df" % d)
            self.layers = []
            for _ in range(num_layers):
                layer = {}
                for name in DENSE_NAMES[self.cell_kind]:
                    layer[name] = Dense(r)
                self.layers.append(layer)
            self.head = Dense(r)
            if f.read(1):
                raise ValueError("%s: trailing bytes after the head" % kernel_path)
        # First 8 bytes of kernel.bin's SHA-256 in hex: kernel.json's model_hash, the firmware's TINYRNN_MODEL_HASH.
        self.model_hash = None
        if r.sha is not None:
            self.model_hash = "".join("%02x" % b for b in r.sha.digest()[:8])
        self.reset()

    def reset(self):
        """Zero state: per layer h (and c for LSTM)."""
        self.h = [[0] * self.units for _ in self.layers]
        self.c = [[0] * self.units for _ in self.layers] if self.cell_kind == "lstm" else None

    def step(self, x_q):
        """One timestep: x_q (input_dim ints, int16 Q(input_frac_bits)) -> list of output_dim ints
        (softmax: Q15 probabilities 0..32768; linear: Q14 normalised targets)."""
        if len(x_q) != self.input_dim:
            raise ValueError("step: %d inputs, model takes %d" % (len(x_q), self.input_dim))
        layer_input = [sat16(int(v)) for v in x_q]
        for l, layer in enumerate(self.layers):
            if self.cell_kind == "lstm":
                h, c = tr_lstm_step(layer, layer_input, self.h[l], self.c[l])
                self.c[l] = c
            else:
                h = tr_gru_step(layer, self.cell_kind == "gru_reset_after", layer_input, self.h[l])
            self.h[l] = h
            layer_input = h
        return tr_head(self, layer_input)

    # ---- host-side conversions (floats; the device's own step never uses them) ---------------------
    def quantize_input(self, x):
        """Raw inputs -> int16 Q(xf): sat16(floor((x - mean) / std * 2^xf + 0.5)). With single-precision
        floats a value on a rounding boundary can differ by 1 LSB from the host's (float64) quantization."""
        scale = 1 << self.input_frac_bits
        out = []
        for j in range(self.input_dim):
            v = (x[j] - self.norm_mean[j]) / self.norm_std[j] * scale + 0.5
            out.append(sat16(int(v // 1)))
        return out

    def dequantize_output(self, y):
        """Outputs -> probabilities (softmax head) or normalised regression values (linear head)."""
        bits = PROB_FRAC_BITS if self.head_kind == "softmax" else PREACT_FRAC_BITS
        return [v / (1 << bits) for v in y]
