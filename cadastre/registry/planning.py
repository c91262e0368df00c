"""Planning permits (建设工程规划许可) as planning staff record them: versions kept, the current one compared with
as-built surveys (``cadastre.qa.planning``)."""

from __future__ import annotations

from cadastre.core.auth import Principal
from cadastre.core.events import Event
from cadastre.core.permit import Permit, load_permit, parse_permit
from cadastre.registry.context import Context
from cadastre.registry.events import emit
from cadastre.store.auth import record
from cadastre.store.engine import write_transaction
from cadastre.store.permits import permit_history
from cadastre.store.permits import record_permit as store_permit

__all__ = ["record_permit", "permit"]


def record_permit(ctx: Context, permit, *, by: str | None = None, actor: Principal | None = None):
    """Record a planning permit (a :class:`~cadastre.core.permit.Permit`, a permit.json path, or its content as a
    dict). A new version of a
    permit already recorded ends the current one (kept in history); the same content again changes nothing.
    Its red line, when given, is in the registry's storage CRS."""
    if isinstance(permit, dict):
        permit = parse_permit(permit, source="请求正文")
    elif not isinstance(permit, Permit):
        permit = load_permit(permit)
    with write_transaction(ctx.engine) as connection:
        result = store_permit(connection, permit, ctx.srid, recorded_by=by)
        record(connection, actor, "permit.record", permit.number)
        if result.changed:
            emit(connection, [Event("permit.recorded", {
                "number": permit.number, "zddm": permit.zddm, "version": result.id,
                "links": {"permit": f"/api/permits/{permit.number}"}})])
        return result


def permit(ctx: Context, number: str):
    """Every recorded version of a permit, oldest first (the last is current unless ended)."""
    with ctx.engine.connect() as connection:
        return permit_history(connection, number)

