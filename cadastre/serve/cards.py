"""What a person is shown of a parcel and of owners' names: the parcel card with its readiness for 首次登记, and the
masking of owners' names (权利人) for roles that may not read them — written once, for the card, the OGC items and
the exports alike.
"""

from __future__ import annotations

import pandas as pd

from cadastre.core.auth import Permission, Principal, mask_name
from cadastre.core.catalogue import REGISTERED_BEFORE
from cadastre.core.codetables import labelled

__all__ = ["OWNER_PROPERTIES", "reads_owners", "mask_owners", "parcel_readiness", "parcel_card"]

#: properties holding owners' names: masked for roles that may not read them (cadastre.core.auth)
OWNER_PROPERTIES = ("qlr",)

_LAND_FIELDS = ("land_code", "land_issued_at", "land_retired_at", "land_retired_reason")


def reads_owners(viewer: Principal | None) -> bool:
    """Whether ``viewer`` sees owners' names as stored (None: the library used locally, trusted like the file)."""
    return viewer is None or viewer.can(Permission.READ_OWNERS)


def mask_owners(frame: pd.DataFrame, viewer: Principal | None) -> pd.DataFrame:
    """``frame`` with its owner columns masked for a ``viewer`` who may not read them (in place; returned)."""
    if not reads_owners(viewer):
        for column in OWNER_PROPERTIES:
            if column in frame.columns:
                frame[column] = frame[column].map(mask_name)
    return frame


def parcel_readiness(current: dict | None, open_errors: int, land: dict | None) -> list[str]:
    """Why a parcel is not ready for 首次登记 (地证同交), in Chinese; empty when it is."""
    reasons = []
    if current is not None and current.get("package_stage") == "baseline":
        return [REGISTERED_BEFORE]
    if current is None:
        reasons.append("宗地已不是现势宗地")
    elif current["package_status"] != "accepted":
        reasons.append("权籍调查成果包未受理")
    if open_errors:
        reasons.append(f"尚有 {open_errors} 处未豁免的错误")
    if land is None:
        reasons.append("未发放土地不动产单元代码")
    return reasons


def parcel_card(zddm: str, rows: dict, viewer: Principal | None) -> dict:
    """The card of parcel ``zddm`` from its rows (``store.queries.parcel_rows``): current version, land unit code,
    buildings, history, code lineage and readiness, owners' names masked for ``viewer`` as :func:`mask_owners`."""
    versions = [{k: v for k, v in row.items() if k not in _LAND_FIELDS and k != "open_errors"}
                for row in rows["versions"]]
    first = rows["versions"][0] if rows["versions"] else {}
    land = ({"code": first["land_code"], "issued_at": first["land_issued_at"],
             "retired_at": first["land_retired_at"], "retired_reason": first["land_retired_reason"]}
            if first.get("land_code") else None)
    current = next((v for v in versions if v["valid_to"] is None), None)
    reasons = parcel_readiness(current, first.get("open_errors") or 0, land)
    if not reads_owners(viewer):
        for version in versions:
            version["qlr"] = mask_name(version["qlr"])
    names = {field.lower(): labelled(field, (current or {}).get(field.lower()))
             for field in ("YT", "QLLX", "QLXZ", "QLSDFS")}
    return {
        "zddm": zddm, "current": current or {}, "names": names, "land_code": land,
        "buildings": rows["buildings"],
        # where each version came from: a survey package, or a lot of the county's existing registry (stage baseline)
        "history": [{k: v.get(k) for k in ("valid_from", "valid_to", "end_reason", "package_id", "package_stage",
                                           "package_file")} for v in versions],
        "lineage": rows["lineage"],
        "ready_for_first_registration": not reasons, "not_ready_because": reasons,
    }
