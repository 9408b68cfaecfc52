"""Record labelled sequences from a board that prints one sample per line, into a CSV training file.

The board prints its samples as lines of numbers (comma-, tab- or space-separated), optionally a header line of
channel names and `# rate_hz=<Hz>` (docs/data-formats.md, "Sample lines from a board"; the exported C library's
<name>_sample_line and the MicroPython module's sample_line write them). Each recording takes the next --seconds
or --samples of them as one sequence with --label and appends it to --out, the CSV format `tinyrnn train --data`
reads, under a new sequence id (<label>-<n>); the file is flushed and synced after every recording, so Ctrl-C or
a board that goes away loses nothing recorded (the recording in progress is kept, said as cut short). The number
of channels and the rate (stated by the board and measured from arrival times) are said; garbage lines, a
changed channel count and a drifting rate are said one line each, counted and never recorded. Exit status 0,
2 for a mistake you can fix (said in one line), 130 on Ctrl-C.
"""
from tinyrnn.host.check.sample_recording import RecordingFile, Session
from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_baud, add_out_file, add_port
from tinyrnn.quantize.errors import PortError, UserError

EXAMPLES = """\
  {prog} --port /dev/ttyACM0 --label walking --seconds 10 --out my_data.csv
  {prog} --port /dev/ttyACM0 --label standing --seconds 10 --repeat 5 --out my_data.csv --group alice
  {prog} --port socket://lab:4001 --label running --samples 100 --split test --out my_data.csv
  tinyrnn train --data my_data.csv                 # the file as it is (add --group-column group with --group)
"""


def add_arguments(p):
    add_port(p, required=True)
    add_baud(p)
    p.add_argument("--label", required=True, help="the class (or regression target) of what you record")
    add_out_file(p, what="the CSV file recordings are appended to (created with a header if new)", required=True)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=at_least(0.0, float, exclusive=True),
                        help="length of each recording in seconds of arrival time (default 10 when --samples "
                             "is not given)")
    length.add_argument("--samples", type=at_least(1), help="length of each recording in samples")
    p.add_argument("--repeat", type=at_least(1), default=1,
                   help="recordings to make one after another, each its own sequence (default %(default)s)")
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="the split column's value: test marks held-out test data (default %(default)s)")
    p.add_argument("--group", metavar="NAME",
                   help="the subject or session, written to a 'group' column (train with --group-column group)")
    p.add_argument("--timeout", type=at_least(0.0, float, exclusive=True), default=10.0,
                   help="give up when no sample arrives for this many seconds (default %(default)s)")


def run(args) -> int:
    if not args.label.strip():
        raise UserError("--label is empty", "name the class of what you record, e.g. --label walking")
    seconds = args.seconds if args.seconds is not None or args.samples is not None else 10.0
    out = RecordingFile(args.out, args.group)
    session = Session(args.port, args.baud, out, args.label.strip(), split=args.split, group=args.group,
                      seconds=seconds, samples=args.samples, repeat=args.repeat, timeout=args.timeout)
    try:
        session.run()
    except KeyboardInterrupt:
        print("interrupted: " + session.summary())
        return 130
    except PortError as e:
        print("the port went away: " + session.summary())
        raise e
    print(session.summary())
    return 0
