"""The registry's zoning: the current 地籍区 and 地籍子区, and importing them (checked first, refused whole)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cadastre.core.auth import Principal
from cadastre.core.errors import ZoningError
from cadastre.core.files import single_file
from cadastre.core.findings import blocking, records
from cadastre.core.model import Zoning
from cadastre.qa.zoning import validate_zoning
from cadastre.read.zoning import read_zoning
from cadastre.registry.context import Context
from cadastre.store.auth import record
from cadastre.store.engine import serialise, write_transaction
from cadastre.store.originals import keep_original
from cadastre.store.zoning import ZoningImportResult, current_zoning, save_zoning

__all__ = ["zoning", "import_zoning"]


def zoning(ctx: Context, counties: Sequence[str] | None = None) -> Zoning:
    """The current 地籍区 and 地籍子区 as GeoDataFrames in the storage CRS."""
    with ctx.engine.connect() as connection:
        return current_zoning(connection, ctx.srid, list(counties) if counties else None)


def import_zoning(ctx: Context, path: str | os.PathLike, *, imported_by: str | None = None,
                  actor: Principal | None = None) -> ZoningImportResult:
    """Load 地籍区/地籍子区 from a zip, folder or GeoPackage, replacing the current zoning of its counties.

    The original file is kept; zoning with any error finding is refused with :class:`ZoningError` (its
    ``findings`` name the codes) and changes nothing. Importing identical zoning again records the import as
    ``unchanged``.
    """
    path = Path(path)
    zoning = read_zoning(path, ctx.counties[0], ctx.srid)
    findings = validate_zoning(zoning, ctx.counties)
    errors = blocking(findings)
    if len(errors):
        raise ZoningError(f"地籍区划 {path.name} 有 {len(errors)} 处错误，未导入",
                          f"zoning {path.name} has {len(errors)} errors; nothing imported",
                          records(errors))
    with single_file(path) as upload, write_transaction(ctx.engine) as connection:
        serialise(connection, *(f"county:{county.code}" for county in ctx.counties))
        original = keep_original(connection, upload, path.name + ("/" if path.is_dir() else ""))
        result = save_zoning(connection, zoning, original, ctx.srid, imported_by)
        record(connection, actor, "zoning.import", result.import_id, {"status": result.status,
                                                                      "sha256": result.sha256})
        return result

