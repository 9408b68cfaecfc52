"""The one way the artifact's JSON files become typed values and back (`JsonRecord`), and are written
(`write_text_atomic`).

A record reads a JSON object into dataclass fields and writes it back exactly as it was read: the same keys in
the same order, an optional field that was absent stays absent, and keys the record does not know are kept.
So a file written by a newer version survives a rewrite by this one.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class JsonRecord:
    extra: dict = field(default_factory=dict, kw_only=True, repr=False)   # keys this version does not know
    key_order: tuple = field(default=(), kw_only=True, compare=False, repr=False)   # keys as read

    # field name -> JsonRecord class, for fields that hold a nested object
    NESTED: ClassVar[dict] = {}

    @classmethod
    def field_names(cls) -> tuple:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("extra", "key_order"))

    @classmethod
    def from_dict(cls, data: Mapping):
        known = cls.field_names()
        values = {}
        for key, value in data.items():
            if key in known:
                nested = cls.NESTED.get(key)
                values[key] = nested.from_dict(value) if nested and isinstance(value, Mapping) else value
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra, key_order=tuple(data))

    def to_dict(self) -> dict:
        """The JSON object: the fields that are set or were present when read, then the unknown keys, in the
        order they were read (new keys last)."""
        values = {}
        for name in self.field_names():
            value = getattr(self, name)
            if value is None and name not in self.key_order:
                continue
            values[name] = value.to_dict() if isinstance(value, JsonRecord) else value
        values.update(self.extra)
        ordered = {k: values[k] for k in self.key_order if k in values}
        ordered.update((k, v) for k, v in values.items() if k not in ordered)
        return ordered

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())         # mkstemp makes it private; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
