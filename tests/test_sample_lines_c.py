"""The exported C library's sample-line helpers (<name>_sample_line_int/_float, _header_line, _rate_line),
compiled on the host with the strict flags: the exact text for edge values (float32 rounding replayed in numpy),
what the host's parser reads back, and a line that does not fit (0 and an empty buffer, never a cut line)."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from tinyrnn.host.formats.sample_lines import SampleLineParser
from tinyrnn.quantize.emit import c_library as lib
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = [pytest.mark.toolchain, pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]

INTS = [0, -1, 7, 2147483647, -2147483648]
FLOATS = [0.0, -0.0, 1.5, -9.81, 5e-7, -4e-7, 123.456789, -2147.48, -2147.483647]   # the last: 2^31 in float32
BAD = [float("nan"), float("inf"), 1e10]
RATES = [10000, 12345, 5, 0]

PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "@NAME@.h"

int main(void)
{
    static const int32_t ints[] = {@INTS@};
    static const float floats[] = {@FLOATS@};
    static const float bad[] = {@BAD@};
    static const uint32_t rates[] = {@RATES@};
    static const char *const names[] = {"ax", "gyro_z", "t.1"};
    char line[512];
    unsigned i;
    int n;
    n = @P@_sample_line_int(line, sizeof line, ints, (int)(sizeof ints / sizeof ints[0]));
    printf("%d|%s", n, line);
    for (i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        n = @P@_sample_line_float(line, sizeof line, &floats[i], 1, 6);
        printf("%d|%s", n, line);
        n = @P@_sample_line_float(line, sizeof line, &floats[i], 1, 0);
        printf("%d|%s", n, line);
    }
    n = @P@_sample_line_float(line, sizeof line, bad, 3, 3);
    printf("%d|%s", n, line);
    for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        n = @P@_rate_line(line, sizeof line, rates[i]);
        printf("%d|%s", n, line);
    }
    n = @P@_header_line(line, sizeof line, names, 3);
    printf("%d|%s", n, line);
    n = @P@_sample_line_int(line, 5, ints + 1, 2);            /* "-1,7\n" needs 6 bytes with the NUL */
    printf("%d|%d\n", n, (int)strlen(line));
    n = @P@_sample_line_int(line, 6, ints + 1, 2);
    printf("%d|%s", n, line);
    return 0;
}
"""


def c_float(v: float) -> str:
    return "(0.0f/0.0f)" if v != v else "(1.0f/0.0f)" if v == float("inf") else float(np.float32(v)).hex() + "f"


def expected_float(x: float, decimals: int) -> str:
    """The helper's arithmetic in float32: |x| * 10^d + 0.5, truncated."""
    x32 = np.float32(x)
    scaled = np.float32(np.float32(abs(x32)) * np.float32(10 ** decimals)) + np.float32(0.5)
    if not scaled < np.float32(2147483648.0):
        return "nan"
    v = int(scaled)
    sign = "-" if x32 < 0 and v != 0 else ""
    whole, frac = divmod(v, 10 ** decimals)
    return sign + str(whole) + (f".{frac:0{decimals}d}" if decimals else "")


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    root = tmp_path_factory.mktemp("lines")
    art = make_artifact(root / "syn", cell="gru", d=3, units=4, k=2, n=4, steps=8, seed=1)
    export(art, progress=False)
    info = lib.write_library(art, root / "lib")
    name, src = info["name"], root / "lib" / "src"
    text = PROGRAM
    for key, value in {"NAME": name, "P": name, "INTS": ", ".join(f"{v}" if v > -2**31 else "INT32_MIN"
                                                                   for v in INTS),
                       "FLOATS": ", ".join(c_float(v) for v in FLOATS), "BAD": ", ".join(c_float(v) for v in BAD),
                       "RATES": ", ".join(f"{r}u" for r in RATES)}.items():
        text = text.replace(f"@{key}@", value)
    (root / "prog.c").write_text(text)
    sources = [str(p) for p in (*src.glob("*.c"), *src.glob("*/*.c"))]
    exe = root / "prog"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{src}", str(root / "prog.c"),
                    *sources, "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert json.loads((root / "lib" / lib.MARKER).read_text())["name"] == name
    return out.splitlines()


def parsed(line: str):
    n, text = line.split("|", 1)
    assert int(n) == len(text) + 1                       # the length returned counts the '\n' (cut by splitlines)
    return text


def test_integer_lines_are_exact(lines):
    text = parsed(lines[0])
    assert text == "0,-1,7,2147483647,-2147483648"
    assert SampleLineParser().parse(text).values == tuple(float(v) for v in INTS)


def test_float_lines_round_half_away_from_zero_in_float32(lines):
    for i, x in enumerate(FLOATS):
        six, whole = parsed(lines[1 + 2 * i]), parsed(lines[2 + 2 * i])
        assert six == expected_float(x, 6) and whole == expected_float(x, 0), (x, six, whole)
        if six == "nan":                            # beyond 2^31 units of 10^-6: said, not a wrong number
            assert x == FLOATS[-1]
            continue
        value = SampleLineParser().parse(six).values[0]
        assert abs(value - float(np.float32(x))) <= 0.5e-6 + abs(x) * 2e-7
    assert parsed(lines[1]) == "0.000000" and parsed(lines[3]) == "0.000000"     # -0.0 prints without a sign


def test_values_a_line_cannot_carry_print_as_nan_which_the_host_refuses(lines):
    text = parsed(lines[1 + 2 * len(FLOATS)])
    assert text == "nan,nan,nan"
    assert SampleLineParser().parse(text).kind == "garbage"


def test_rate_and_header_lines(lines):
    base = 2 + 2 * len(FLOATS)
    rates = [parsed(line) for line in lines[base:base + len(RATES)]]
    assert rates == ["# rate_hz=10.000", "# rate_hz=12.345", "# rate_hz=0.005", "# rate_hz=0.000"]
    p = SampleLineParser()
    assert p.parse(rates[1]).rate_hz == 12.345
    assert p.parse(rates[3]).kind == "garbage"                     # a rate of 0 is not a rate
    header = parsed(lines[base + len(RATES)])
    assert header == "ax,gyro_z,t.1" and p.parse(header).names == ("ax", "gyro_z", "t.1")


def test_a_line_that_does_not_fit_is_not_written(lines):
    assert lines[-2] == "0|0"                       # 0 and an empty string
    assert parsed(lines[-1]) == "-1,7"              # 5 characters and the NUL: exactly fits
