"""The hardware suite: a board running tinyrnn firmware (or the MicroPython server), checked over its port.

Installed as `tinyrnn.hwtests`; the options and fixtures come from the pytest plugin the package registers
(tinyrnn.host.check.pytest_plugin), so any project can run it:

    pytest --pyargs tinyrnn.hwtests --port /dev/ttyACM0 --model build/basic_motions-gru32
    pytest tests/hw --port /dev/pts/3 --model build/basic_motions-gru32        (in this repository)

Without --port every test here is skipped.
"""
