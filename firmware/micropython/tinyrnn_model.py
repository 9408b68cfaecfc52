# tinyrnn_model: one Python API for the kernel on MicroPython, whichever implementation the board has:
#
#   natmod      tinyrnn_c.mpy, the C kernels as a dynamic native module (one per architecture, any model)
#   cmodule     tinyrnn_c compiled into the firmware (USER_C_MODULES=firmware/micropython/native)
#   python      tinyrnn_mp.py, the pure-Python kernel (~640 times slower on Cortex-M: the fallback)
#
# All three are bit-exact with the twin (quantize/twin/cells.py) and with each other.
#
#   import tinyrnn_model
#   model = tinyrnn_model.load()            # kernel_c.bin through tinyrnn_c if importable, else kernel.bin +
#                                           # tables.bin through tinyrnn_mp
#   out = model.output_buffer()             # array('i', output_dim): preallocated once
#   model.reset()
#   model.step(x, out)                      # x: input_dim int16 (array('h') allocates nothing; a list or tuple
#                                           # is copied into the model's own array); out is written in place
#                                           # and returned (without out: the model's own array, overwritten by
#                                           # the next step). On the C kernels this is the C object's bound
#                                           # method: one native call, no Python frame (~the direct call's cost)
#   model.run(sequence)                     # steps a sequence of x, returns the last outputs (array('i'))
#   model.info()                            # dict: dims, cell, head, hash, implementation, kernel_path
#
# Inputs are int16 Q(input_frac_bits) of the normalised input (quantize_input() converts raw floats); outputs
# are Q15 probabilities (softmax head) or Q14 normalised values (linear head): docs/quantization.md.

import struct
from array import array

try:
    import tinyrnn_c                    # natmod or user C module: the same name and functions
except ImportError:
    tinyrnn_c = None

CELL_KINDS = ("gru_reset_after", "gru_reset_before", "lstm")   # quantize/twin/params.py CELL_IDS
HEAD_KINDS = ("softmax", "linear")                              # HEAD_IDS
IMAGE_HEADER = "<4sBBBBBBHHHHH16sIHH"   # kernel_c.bin (quantize/emit/micropython.py C_IMAGE_HEADER)
IMAGE_HEADER_SIZE = 44


def _exists(path):
    try:
        open(path, "rb").close()
        return True
    except OSError:
        return False


def native_available():
    return tinyrnn_c is not None


def load(kernel="kernel.bin", image="kernel_c.bin", tables="tables.bin", implementation=None):
    """The model through the fastest implementation present: the C kernels when tinyrnn_c imports and `image`
    (kernel_c.bin) exists, else the pure-Python kernel over `kernel` and `tables`. implementation="python" or
    "native" forces one."""
    if implementation != "python" and tinyrnn_c is not None and (implementation == "native" or _exists(image)):
        return NativeModel(image)
    if implementation == "native":
        raise ImportError("no tinyrnn_c module on this board (copy tinyrnn_c.mpy for its architecture)")
    return PythonModel(kernel, tables)


class _Base:
    """What every implementation shares: dims, the input array, run(), info(), conversions."""

    def _setup(self):
        self._x = array("h", bytes(2 * self.input_dim))

    def output_buffer(self):
        return array("i", bytes(4 * self.output_dim))

    def input_from(self, data, offset=0):
        """The model's own input array filled from little-endian int16 bytes at `offset` (a protocol frame)."""
        buf = self._x
        for i, v in enumerate(struct.unpack_from("<%dh" % self.input_dim, data, offset)):
            buf[i] = v
        return buf

    def run(self, sequence, out=None):
        """Step through `sequence` (an iterable of inputs) from the current state; the last outputs."""
        out = out if out is not None else self.output_buffer()
        for x in sequence:
            self.step(x, out)
        return out

    def info(self):
        return {"implementation": self.implementation, "kernel_path": self.kernel_path,
                "cell": CELL_KINDS[self.cell_id], "head": HEAD_KINDS[self.head_id], "input_dim": self.input_dim,
                "units": self.units, "output_dim": self.output_dim, "layers": self.layers,
                "input_frac_bits": self.input_frac_bits, "model_hash": self.model_hash,
                "state_words": self.state_words, "scratch_words": self.scratch_words}

    @property
    def cell_kind(self):
        return CELL_KINDS[self.cell_id]

    @property
    def head_kind(self):
        return HEAD_KINDS[self.head_id]


class NativeModel(_Base):
    """kernel_c.bin run by the C kernels (tinyrnn_c): state and scratch are preallocated arrays, a step
    allocates nothing. `image`: a path, or the file's bytes (copied once unless it is a bytearray).
    step(x, out=None) and reset() are the C object's own methods (see __init__); without `out`, step writes
    the model's own output array (overwritten by the next step) and returns it."""

    def __init__(self, image="kernel_c.bin"):
        if tinyrnn_c is None:
            raise ImportError("no tinyrnn_c module on this board")
        if isinstance(image, str):
            with open(image, "rb") as f:
                size = f.seek(0, 2)
                f.seek(0)
                data = bytearray(size)          # a heap block of its own: 8-byte aligned, as load() needs
                if f.readinto(data) != size:
                    raise ValueError("%s: short read" % image)
        else:
            data = image if isinstance(image, bytearray) else bytearray(image)
        if len(data) < IMAGE_HEADER_SIZE:
            raise ValueError("not a tinyrnn kernel_c.bin")
        (magic, _, layout, self.cell_id, self.head_id, self.layers, self.input_frac_bits, self.input_dim,
         self.units, self.output_dim, self.state_words, self.scratch_words, model_hash, _, _, _) = \
            struct.unpack_from(IMAGE_HEADER, data, 0)
        if magic != b"TRNC":
            raise ValueError("not a tinyrnn kernel_c.bin")
        if layout != tinyrnn_c.C_LAYOUT:
            raise ValueError("kernel_c.bin has weight layout %d, this tinyrnn_c reads %d: export the model "
                             "again, or deploy the matching tinyrnn_c" % (layout, tinyrnn_c.C_LAYOUT))
        self.model_hash = model_hash.decode()
        self.implementation = str(getattr(tinyrnn_c, "BUILD", "natmod"))
        self.kernel_path = tinyrnn_c.kernel_path()
        self._setup()
        # The C model holds the image, state, scratch, the x array (where list inputs are copied) and its
        # default output; its bound methods ARE this object's step and reset (instance attributes), so
        # model.step(x, out) is one native call, with no Python frame in between.
        self._native = tinyrnn_c.load(data, array("i", bytes(4 * self.state_words)),
                                      array("i", bytes(4 * self.scratch_words)), self._x, self.output_buffer())
        self.step = self._native.step           # step(x, out=None) -> out: x array('h') or list/tuple
        self.reset = self._native.reset


class PythonModel(_Base):
    """kernel.bin + tables.bin run by tinyrnn_mp.py, the pure-Python kernel (the fallback)."""

    implementation = "python"
    kernel_path = "mpy"

    def __init__(self, kernel="kernel.bin", tables="tables.bin"):
        import tinyrnn_mp
        m = self._m = tinyrnn_mp.Model(kernel, tables)
        self.cell_id = CELL_KINDS.index(m.cell_kind)
        self.head_id = HEAD_KINDS.index(m.head_kind)
        self.layers = len(m.layers)
        self.input_dim, self.units, self.output_dim = m.input_dim, m.units, m.output_dim
        self.input_frac_bits, self.model_hash = m.input_frac_bits, m.model_hash
        self.state_words = self.layers * self.units * (2 if m.cell_kind == "lstm" else 1)
        self.scratch_words = 0                  # Python lists, allocated per step
        self._setup()
        self._y = self.output_buffer()

    def reset(self):
        self._m.reset()

    def step(self, x, out=None):
        if out is None:
            out = self._y
        y = self._m.step(x)
        for i in range(self.output_dim):
            out[i] = y[i]
        return out
