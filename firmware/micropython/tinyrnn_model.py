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

    def _input(self, x):
        if isinstance(x, (list, tuple)):
            if len(x) != self.input_dim:
                raise ValueError("step: %d inputs, model takes %d" % (len(x), self.input_dim))
            buf = self._x
            for i in range(self.input_dim):
                v = x[i]
                buf[i] = -32768 if v < -32768 else (32767 if v > 32767 else v)
            return buf
        return x

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
    allocates nothing. `image`: a path, or the file's bytes (copied once unless it is an 8-byte aligned
    bytearray)."""

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
        self._image = data                      # the handle points into it: keep it alive
        self._model = tinyrnn_c.load(data)
        self.model_hash = model_hash.decode()
        self.implementation = str(getattr(tinyrnn_c, "BUILD", "natmod"))
        self.kernel_path = tinyrnn_c.kernel_path()
        self._state = array("i", bytes(4 * self.state_words))
        self._scratch = array("i", bytes(4 * self.scratch_words))
        self._setup()
        self.reset()

    def reset(self):
        tinyrnn_c.reset(self._model, self._state)

    def step(self, x, out=None):
        """One timestep: x (input_dim int16) -> out (output_dim int32, written in place and returned)."""
        if out is None:
            out = self.output_buffer()
        tinyrnn_c.step(self._model, self._state, self._scratch, self._input(x), out)
        return out


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

    def reset(self):
        self._m.reset()

    def step(self, x, out=None):
        if out is None:
            out = self.output_buffer()
        y = self._m.step(x)
        for i in range(self.output_dim):
            out[i] = y[i]
        return out
