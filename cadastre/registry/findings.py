"""Findings of stored packages as data for analysts and staff, package summaries, and waivers (a staff decision to
accept a finding as an exception, kept as history and in the audit log)."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd

from cadastre.core.auth import Principal
from cadastre.core.geometry import points_at
from cadastre.registry.context import Context, moment
from cadastre.store.auth import record
from cadastre.store.engine import write_transaction
from cadastre.store.packages import add_waiver, findings_across
from cadastre.store.packages import package_summaries as summaries_of

__all__ = ["findings", "package_summaries", "waive"]


def findings(ctx: Context, package_id: int | None = None, *, rule: str | None = None, severity: str | None = None,
             stage: str | None = None, status: str | None = None, surveyor: str | None = None,
             since: datetime | str | None = None, until: datetime | str | None = None):
    """Findings of stored packages as a GeoDataFrame: one row per finding with its waiver (``waived_by``,
    ``waiver_reason``) and its package's ``stage``, ``status``, ``surveyor`` (the surveying firm),
    ``project_name`` and ``received_at``; geometry the finding's place in the storage CRS (none for a finding
    about a whole file). Filters: one package, a rule or rule family (``"GEO"``), severity, package stage and
    status, firm, and packages received in [``since``, ``until``)."""
    with ctx.engine.connect() as connection:
        frame = findings_across(connection, package_id=package_id, rule=rule, severity=severity, stage=stage,
                                status=status, surveyor=surveyor, since=moment(since), until=moment(until))
    return gpd.GeoDataFrame(frame, geometry=points_at(frame["lon"], frame["lat"], ctx.srid), crs=ctx.srid)


def package_summaries(ctx: Context, *, stage: str | None = None, status: str | None = None,
                      surveyor: str | None = None, since: datetime | str | None = None,
                      until: datetime | str | None = None):
    """Stored packages as a DataFrame, oldest first: stage, status, project, surveying firm, times, and the
    counts of their errors, warnings, notes (``infos``) and waivers."""
    with ctx.engine.connect() as connection:
        return summaries_of(connection, stage=stage, status=status, surveyor=surveyor, since=moment(since),
                            until=moment(until))


def waive(ctx: Context, package_id: int, rule: str, feature: str | None, *, by: str, reason: str,
          actor: Principal | None = None):
    """Waive one finding of a stored package (staff decision, kept as history and in the audit log)."""
    with write_transaction(ctx.engine) as connection:
        waiver = add_waiver(connection, package_id, rule, feature, by, reason)
        record(connection, actor, "finding.waive", package_id, {"rule": rule, "feature": feature, "reason": reason})
        return waiver


