"""Shared pytest options. `--port` etc. live here (the root conftest) so that pytest sees them
whether it is started on `tests/` or on `tests/hw`."""


def pytest_addoption(parser):
    group = parser.getgroup("tinyrnn hardware")
    group.addoption("--port", default=None,
                    help="serial port URL of a board running tinyrnn firmware "
                         "(/dev/ttyUSB0, /dev/pts/N, socket://host:port); tests/hw skip without it")
    group.addoption("--baud", type=int, default=115200, help="baud rate for --port (default 115200)")
    group.addoption("--model", default=None,
                    help="artifact directory of the model flashed on the board "
                         "(default: build/basic_motions-gru32)")
