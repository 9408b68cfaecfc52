"""The one number grammar of the documented text formats (CSV sequence cells, sample lines on a serial port)."""

from __future__ import annotations


def parse_number(text: str) -> float | None:
    """The number a field holds, or None when it is not one (docs/data-formats.md)."""
    if "_" in text:                     # Python's float() takes 1_000; the formats do not
        return None
    try:
        return float(text)
    except ValueError:
        return None
