"""MicroPython boards, one module per job: which kind of board each serves is in its name.

    qemu_firmware.py   emulated MicroPython: MicroPython's qemu port in QEMU, the model in a ROMFS image (a Target)
    deploy.py          MicroPython on a real port: probe, choose a kernel, copy with mpremote, serve (a Target)
    unix_port.py       MicroPython's unix port on a pty (`tinyrnn mpserve`), no board data (a Target)
    staging.py         the files either kind of board gets (server, API, kernel image, natmod)
    raw_repl.py        run code and start the server over the raw REPL (either kind)
    builds.py          the MicroPython source, mpy-cross, the natmods and the qemu port firmware (cached)
    bench.py           instructions per step of each implementation on an emulated board (`tinyrnn bench`)
"""
