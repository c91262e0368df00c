"""High-water marks of code numbering: atomic, never going back, kept apart from the rows that use the codes.

The numbering scope of a code is its prefix (see ``models.CodeCounter``). :func:`reserve` moves a scope's mark up
by ``count`` in one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement. On PostgreSQL that statement locks the
counter row until the transaction ends, so concurrent allocators queue on it; on SQLite allocation runs inside
``BEGIN IMMEDIATE`` (``engine.write_transaction``), which serialises writers. A transaction that fails rolls its
reservation back with everything else, so no number is half-used and issued numbering has no gaps.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.errors import AllocationError

__all__ = ["reserve", "raise_to", "high_water", "scope_maximum"]

#: 幢号 9999 marks a unit spanning several buildings: valid, but never allocated automatically
MAX_AUTOMATIC_BUILDING = 9998


def scope_maximum(prefix: str) -> int:
    """The largest number a scope may allocate, from the shape of its prefix."""
    n = len(prefix)
    if n == 14:
        return 99_999  # 宗地顺序号 within 地籍子区 + 特征码
    if n == 20 and prefix[-1] == "F":
        return MAX_AUTOMATIC_BUILDING  # 幢号 within a parcel
    if n == 20 and prefix[-1] in "LQ":
        return 99_999_999  # 8-digit serial within a parcel
    if n == 24 and prefix[19] == "F":
        return 9_999  # 户号 within a building
    raise AllocationError(f"无效的编码范围前缀“{prefix}”", f"invalid numbering scope {prefix!r}")


_DT = sa.DateTime(timezone=True)


def reserve(connection: Connection, prefix: str, count: int = 1) -> range:
    """Reserve the next ``count`` numbers of scope ``prefix`` inside the caller's transaction."""
    if count < 1:
        raise ValueError("count must be positive")
    maximum = scope_maximum(prefix)
    last = connection.execute(
        sa.text("INSERT INTO code_counter (prefix, last_value, updated_at) VALUES (:prefix, :n, :now) "
                "ON CONFLICT (prefix) DO UPDATE SET last_value = code_counter.last_value + :n, updated_at = :now "
                "RETURNING last_value").bindparams(sa.bindparam("now", type_=_DT)),
        {"prefix": prefix, "n": count, "now": datetime.now(UTC)},
    ).scalar_one()
    if last > maximum:
        raise AllocationError(f"编码范围 {prefix} 已用尽：需要到 {last}，上限 {maximum}",
                              f"numbering scope {prefix} exhausted: needs {last}, maximum {maximum}")
    return range(last - count + 1, last + 1)


def raise_to(connection: Connection, prefix: str, value: int) -> int:
    """Make the mark of ``prefix`` at least ``value`` (a number used without :func:`reserve`, e.g. a surveyor's
    valid, free 幢号); returns the mark."""
    if not 1 <= value <= max(scope_maximum(prefix), 9_999):
        raise AllocationError(f"编号 {value} 超出范围 {prefix}", f"number {value} outside scope {prefix}")
    greatest = "max" if connection.dialect.name == "sqlite" else "GREATEST"
    return connection.execute(
        sa.text("INSERT INTO code_counter (prefix, last_value, updated_at) VALUES (:prefix, :v, :now) "
                f"ON CONFLICT (prefix) DO UPDATE SET last_value = {greatest}(code_counter.last_value, :v), "
                "updated_at = :now RETURNING last_value").bindparams(sa.bindparam("now", type_=_DT)),
        {"prefix": prefix, "v": value, "now": datetime.now(UTC)},
    ).scalar_one()


def high_water(connection: Connection, prefixes: list[str]) -> dict[str, int]:
    """Current marks of ``prefixes`` (0 for scopes never used), for allocation policy to plan with."""
    if not prefixes:
        return {}
    rows = connection.execute(
        sa.text("SELECT prefix, last_value FROM code_counter WHERE prefix IN :p").bindparams(
            sa.bindparam("p", expanding=True)), {"p": list(prefixes)})
    marks = dict.fromkeys(prefixes, 0)
    marks.update({prefix: value for prefix, value in rows})
    return marks
