"""Recorded planning permits, with history: a new version of a permit ends the current one (never overwritten)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cadastre.core.errors import InputError, NotFoundError, shown
from cadastre.core.geometry import as_multipolygons
from cadastre.core.permit import Permit, parse_permit, red_line_geometry
from cadastre.store.models import Permit as PermitRow

__all__ = ["PermitRecord", "record_permit", "current_permit", "permit_history", "permit_for_parcel",
           "recorded_permit_for"]

_TS = sa.DateTime(timezone=True)


@dataclass(frozen=True)
class PermitRecord:
    """A version of a recorded permit."""

    id: int
    permit: Permit
    recorded_by: str | None
    valid_from: datetime
    valid_to: datetime | None
    end_reason: str | None
    changed: bool = True  # False when recording found the same content already current

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "permit": self.permit.to_dict(), "recorded_by": self.recorded_by,
                "valid_from": self.valid_from.isoformat(), "valid_to": self.valid_to and self.valid_to.isoformat(),
                "end_reason": self.end_reason}


def _record(row) -> PermitRecord:
    return PermitRecord(row.id, parse_permit(row.content, f"规划许可 {row.number}"), row.recorded_by,
                        row.valid_from, row.valid_to, row.end_reason)


def _rows(connection: Connection, where) -> list:
    return connection.execute(sa.select(PermitRow.id, PermitRow.number, PermitRow.content, PermitRow.recorded_by,
                                        PermitRow.valid_from, PermitRow.valid_to, PermitRow.end_reason)
                              .where(where).order_by(PermitRow.valid_from, PermitRow.id)).all()


def record_permit(connection: Connection, permit: Permit, srid: int, *, recorded_by: str | None = None,
                  county: str | None = None) -> PermitRecord:
    """Record a permit; a permit with this number already current is ended and replaced when the content differs,
    kept as it is when the same."""
    if not permit.number:
        raise InputError("规划许可必须有许可证号 number", "a permit needs its number")
    content = permit.to_dict()
    current = _rows(connection, (PermitRow.number == permit.number) & PermitRow.valid_to.is_(None))
    if current and current[0].content == content:
        return PermitRecord(**{**_record(current[0]).__dict__, "changed": False})
    now = datetime.now(UTC)
    if current:
        connection.execute(sa.update(PermitRow).where(PermitRow.id == current[0].id).values(
            valid_to=now, end_reason=f"由 {recorded_by or '未署名'} 登记的新版本替代"))
    red = red_line_geometry(permit)
    geometry = None
    if red is not None:
        geometry = sa.func.ST_GeomFromWKB(shapely.to_wkb(as_multipolygons([red])[0]), srid)
    new_id = connection.execute(sa.insert(PermitRow).values(
        number=permit.number, county=county or (permit.zddm[:6] if permit.zddm else None),
        parcel_code=permit.zddm, content=content, source="recorded", recorded_by=recorded_by, geom=geometry,
        valid_from=now).returning(PermitRow.id)).scalar_one()
    return PermitRecord(new_id, permit, recorded_by, now, None, None)


def current_permit(connection: Connection, number: str) -> Permit | None:
    rows = _rows(connection, (PermitRow.number == number) & PermitRow.valid_to.is_(None))
    return _record(rows[0]).permit if rows else None


def permit_for_parcel(connection: Connection, zddm: str) -> Permit | None:
    """The current permit naming this parcel (the newest, if several)."""
    rows = _rows(connection, (PermitRow.parcel_code == zddm) & PermitRow.valid_to.is_(None))
    return _record(rows[-1]).permit if rows else None


def recorded_permit_for(connection: Connection, number: str | None, zddm: str | None) -> Permit | None:
    """The recorded permit a package refers to: by its permit number, else the one naming its parcel."""
    found = current_permit(connection, number) if number else None
    return found if found is not None or not zddm else permit_for_parcel(connection, zddm)


def permit_history(connection: Connection, number: str) -> list[PermitRecord]:
    """Every version of the permit, oldest first."""
    rows = _rows(connection, PermitRow.number == number)
    if not rows:
        raise NotFoundError(f"没有登记规划许可 {shown(number)}", f"no permit {shown(number)}")
    return [_record(r) for r in rows]

