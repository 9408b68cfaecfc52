"""The vocabulary board data is validated in: a `Key` a table must hold (its type and range), and `Part`, one
implementation of the porting contract (a UART driver, a clock driver, a counter, a runner) with the keys it needs
and the checks that span tables. host/device/boards.py declares one Part per driver beside the source file that
implements it, and one loop (`check_parts`) validates a board against the parts its data names.

Every error names the file and the key (`BoardDataError`, one line: `tinyrnn boards show` and every command print
it as it is).
"""
from dataclasses import dataclass
from typing import Any, Callable

from tinyrnn.quantize.errors import BoardDataError


def need(table, key, kind, where):
    """table[key], which must be there and of `kind` (an int is never a bool)."""
    if key not in table:
        raise BoardDataError(f"{where}: missing '{key}'")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BoardDataError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}")
    return value


def one_of(value, allowed, what, where):
    if value not in allowed:
        raise BoardDataError(f"{where}: {what} {value!r} not one of {sorted(allowed)}")
    return value


def within(low, high, message):
    """A Key check: low <= value <= high, else `message` (formatted with the value as {value})."""
    def check(value):
        return None if low <= value <= high else message.format(value=value)
    return check


def among(allowed, what):
    """A Key check: value in `allowed`, else the one_of message."""
    def check(value):
        return None if value in allowed else f"{what} {value!r} not one of {sorted(allowed)}"
    return check


@dataclass(frozen=True)
class Key:
    """A key of a board.toml table ("" for the top level): its type and, if given, `check(value)` -> an error
    message or None."""
    table: str
    name: str
    kind: type
    check: Callable[[Any], str | None] | None = None
    optional: bool = False

    def validate(self, data, where):
        table = data.get(self.table, {}) if self.table else data
        if self.optional and self.name not in table:
            return
        value = need(table, self.name, self.kind, f"{where} [{self.table}]" if self.table else where)
        problem = self.check(value) if self.check else None
        if problem:
            raise BoardDataError(f"{where}: {problem}")


@dataclass(frozen=True)
class Part:
    """One implementation of the porting contract, named by board data: the source file that implements it
    (firmware/<source>), the keys its table must hold, and `rules(data, where)` over the whole board data for
    what one key cannot say (a PLL's arithmetic, a counter the runner cannot provide). Each rule raises
    BoardDataError."""
    source: str = ""
    keys: tuple = ()
    rules: tuple = ()
    tables: tuple = ()          # the tables it needs (checked to be there first)

    def validate(self, data, where):
        for table in self.tables:
            need(data, table, dict, where)
        for key in self.keys:
            key.validate(data, where)
        for rule in self.rules:
            rule(data, where)


def check_parts(data, parts, where):
    """Validate `data` against each Part in turn (the order their errors are found)."""
    for part in parts:
        part.validate(data, where)


def chosen(data, selector, parts, where):
    """The Part that `selector` (a Key whose value names one of `parts`) picks, the key validated first."""
    selector.validate(data, where)
    return parts[(data[selector.table] if selector.table else data)[selector.name]]
