"""Versioned SQL migrations shared by both stores: files named ``NNNN_what.sql``, applied
in order, once; the checksum of each applied file is recorded, so editing a migration
that already ran is caught instead of silently diverging between machines."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.errors import DeskError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def load(directory: Path) -> list[Migration]:
    """Every migration in ``directory``, by version; a misnamed file is an error."""
    out = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise DeskError(f"migration {path.name}: name it NNNN_what.sql (e.g. 0002_add_x.sql)")
        out.append(Migration(int(m[1]), m[2], path.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise DeskError(f"migrations in {directory}: a version number is used twice")
    return out


def pending(
    available: Iterable[Migration], applied: Mapping[int, str], store: str
) -> list[Migration]:
    """The migrations still to run; refuses if an applied one was edited or is missing."""
    known = {m.version: m for m in available}
    for version, checksum in sorted(applied.items()):
        m = known.get(version)
        if m is None:
            raise DeskError(
                f"{store}: migration {version:04d} was applied but is not in this checkout "
                "(a newer deskplane migrated this store?)"
            )
        if m.checksum != checksum:
            raise DeskError(
                f"{store}: migration {version:04d}_{m.name} changed after it was applied "
                f"(checksum {checksum} then, {m.checksum} now); add a new migration instead"
            )
    return [m for v, m in sorted(known.items()) if v not in applied]
