"""The exported library's Makefile fragment (quantize/emit/library/library.mk.in), used as its own comment says:
included at the top of a user's Makefile, plain `make` builds the user's program, not only the library."""

import os
import shutil
import subprocess

import pytest

from tinyrnn.quantize.emit.c_library import TEMPLATES, _fill

pytestmark = [pytest.mark.toolchain,
              pytest.mark.skipif(not (shutil.which("make") and shutil.which("cc")), reason="needs make and cc")]

def _outside_make():
    """The environment of a user's shell: none of the variables a calling make (`make test`) passes down, which
    would make this make print "Entering directory" lines and take the caller's flags."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}


USER_MAKEFILE = """\
include lib/motion/motion.mk
app.elf: app.o $(MOTION_LIB)
\t$(CC) $(CFLAGS) app.o $(MOTION_LIB) -o $@
app.o: CFLAGS += $(MOTION_CFLAGS)
"""


def test_plain_make_builds_the_users_program(tmp_path):
    lib = tmp_path / "lib" / "motion"
    (lib / "src").mkdir(parents=True)
    (lib / "motion.mk").write_text(_fill((TEMPLATES / "library.mk.in").read_text(),
                                         {"NAME": "motion", "UC": "MOTION", "SOURCE": "a test"}))
    (lib / "src" / "motion.h").write_text("int motion_answer(void);\n")
    (lib / "src" / "motion.c").write_text('#include "motion.h"\nint motion_answer(void) { return 42; }\n')
    (tmp_path / "app.c").write_text('#include "motion.h"\nint main(void) { return motion_answer() != 42; }\n')
    (tmp_path / "Makefile").write_text(USER_MAKEFILE)
    proc = subprocess.run(["make", "--no-print-directory", "CC=cc"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=_outside_make())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "app.elf").is_file(), proc.stdout
    assert subprocess.run([str(tmp_path / "app.elf")]).returncode == 0


def test_a_default_goal_set_before_the_include_is_kept(tmp_path):
    lib = tmp_path / "lib" / "motion"
    (lib / "src").mkdir(parents=True)
    (lib / "motion.mk").write_text(_fill((TEMPLATES / "library.mk.in").read_text(),
                                         {"NAME": "motion", "UC": "MOTION", "SOURCE": "a test"}))
    (lib / "src" / "motion.c").write_text("int motion_answer(void) { return 42; }\n")
    (tmp_path / "Makefile").write_text("all: ; @echo user-all\ninclude lib/motion/motion.mk\n")
    proc = subprocess.run(["make", "--no-print-directory", "CC=cc"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=_outside_make())
    assert proc.returncode == 0 and proc.stdout.strip() == "user-all", proc.stdout + proc.stderr
