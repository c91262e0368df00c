"""Events other offices rely on (issue 25): what happened, as data a receiver can act on without calling back.

An event is written in the same transaction as the change it describes (an outbox: it exists if and only if the
change committed) and is delivered two ways — a feed read in commit order (``GET /api/events?after=ID``) and
webhooks signed per the Standard Webhooks convention (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``). Owners' names are never in a payload.

This module is pure: the types, the payloads built from what a change produced, the retry schedule, and signing
and verifying (the maintained ``standardwebhooks`` package does the HMAC)."""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cadastre.core.errors import InputError, shown

__all__ = ["EVENT_TYPES", "EVENT_VERSION", "RETRY_DELAYS_S", "Event", "new_secret", "signed_headers", "verify",
           "parse_types", "event_body", "InvalidSignature"]

#: every event type, with what it means (the README lists an example payload of each)
EVENT_TYPES: dict[str, str] = {
    "package.received": "成果包已接收（待检查）",
    "package.accepted": "成果包已受理并编码",
    "package.rejected": "成果包有错误，已退回",
    "package.refused": "成果包无法读取，已拒收",
    "codes.issued": "已发放不动产单元代码 / 宗地代码",
    "codes.retired": "代码已注销（附接替代码）",
    "building.table_changed": "自然幢楼盘表已生成或替换（预测 / 实测）",
    "building.ready_for_first_registration": "自然幢可办理首次登记",
    "building.not_ready_for_first_registration": "自然幢暂不能办理首次登记（附原因）",
    "permit.recorded": "已记录建设工程规划许可",
    "baseline.imported": "已导入存量登记数据批次",
}
#: the payloads' version: a receiver can tell a later shape from this one
EVENT_VERSION = 1
#: after a failed delivery, the next tries (seconds after the previous one): the first within seconds, then growing,
#: 27 h in all (the Standard Webhooks schedule); past the last the event goes to the dead letters
RETRY_DELAYS_S = (5, 300, 1800, 7200, 18000, 36000, 36000)


class InvalidSignature(InputError):
    """A webhook whose signature, timestamp or headers do not check out."""


@dataclass
class Event:
    """One event: ``id`` is its place in commit order (None until stored); ``data`` its payload."""

    type: str
    data: dict
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None
    version: int = EVENT_VERSION

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "time": self.time.isoformat().replace("+00:00", "Z"),
                "version": self.version, "data": self.data}


def event_body(event: dict) -> str:
    """The exact text delivered and signed: compact JSON, keys in order, Chinese as is."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)


def parse_types(text: str | list[str] | None) -> list[str] | None:
    """Event types from ``a,b`` (or a list); None for all. An unknown type is an input error naming the known ones.

    >>> parse_types("codes.issued, package.accepted"), parse_types(None)
    (['codes.issued', 'package.accepted'], None)
    """
    if text is None or text == "" or text == []:
        return None
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [t for t in names if t not in EVENT_TYPES]
    if unknown:
        raise InputError(f"没有事件类型 {shown(', '.join(unknown))}；可用：{', '.join(EVENT_TYPES)}",
                         f"unknown event types {unknown}")
    return list(dict.fromkeys(names))


def new_secret() -> str:
    """A subscription's signing secret: ``whsec_`` + 32 random bytes in base64 (the Standard Webhooks form)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def message_id(event_id: int) -> str:
    """The ``webhook-id`` of an event: the same on every redelivery, so a receiver drops what it already has."""
    return f"evt_{event_id}"


def signed_headers(secret: str, event_id: int, body: str, when: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for delivering ``body`` (event ``event_id``) now."""
    when = when or datetime.now(UTC)
    msg_id = message_id(event_id)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body), "content-type": "application/json"}


def verify(headers, body: bytes | str, secret: str) -> dict:
    """Check a delivery the way a receiving office would, in one call: the signature over
    ``webhook-id.webhook-timestamp.body`` with the subscription's secret, and a timestamp within 5 minutes.
    Returns the event (a dict); raises :class:`InvalidSignature` (in Chinese) otherwise.

    >>> secret = new_secret()
    >>> body = event_body({"id": 7, "type": "codes.issued", "data": {}})
    >>> verify(signed_headers(secret, 7, body), body, secret)["id"]
    7
    >>> verify(signed_headers(secret, 7, body), body.replace("7", "8"), secret)
    Traceback (most recent call last):
    ...
    cadastre.core.events.InvalidSignature: 签名无效：No matching signature found (invalid webhook signature: No matching signature found)
    """
    try:
        return Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as e:
        raise InvalidSignature(f"签名无效：{e}", f"invalid webhook signature: {e}") from None


def package_links(package_id: int) -> dict:
    """Where a receiver reads more (paths on the service: prefix them with its address)."""
    return {"package": f"/api/packages/{package_id}", "report": f"/api/packages/{package_id}/report"}


def accepted_events(package_id: int, stage: str | None, filename: str | None, assigned: dict,
                    readiness: dict[str, list[str]], now: datetime) -> list[Event]:
    """What the acceptance of a package tells: ``package.accepted``; ``codes.issued`` with the codes issued now
    (a unit keeping its pre-sale code is not issued again); ``codes.retired`` with each code's successors; per
    building of a building package ``building.table_changed`` and its readiness for 首次登记 (``readiness``:
    building code → why not, empty when ready)."""
    parcels, units, retired = (assigned.get(k) or [] for k in ("parcels", "units", "retired"))
    events = [Event("package.accepted", {
        "package_id": package_id, "stage": stage, "filename": filename,
        "counts": {"parcels": len(parcels), "units": len(units), "retired": len(retired)},
        "links": package_links(package_id)}, now)]
    issued_parcels = [{"zddm": p["zddm"], "bdcdyh": p.get("bdcdyh")} for p in parcels if p.get("new")]
    issued_units = [{"bdcdyh": u["bdcdyh"], "building": u["bdcdyh"][:24], "shbw": u.get("shbw")}
                    for u in units if u.get("new")]
    if issued_parcels or issued_units:
        events.append(Event("codes.issued", {"package_id": package_id, "parcels": issued_parcels,
                                             "units": issued_units}, now))
    if retired:
        events.append(Event("codes.retired", {"package_id": package_id, "codes": [
            {"code": r["bdcdyh"], "successors": list(r.get("replaced_by") or []), "reason": r.get("reason")}
            for r in retired]}, now))
    per_building = Counter(u["bdcdyh"][:24] for u in units)
    for building, reasons in readiness.items():
        count = per_building[building]
        links = {"table": f"/api/buildings/{building}/table", "xlsx": f"/api/buildings/{building}/table?format=xlsx"}
        events.append(Event("building.table_changed", {"building": building, "stage": stage, "units": count,
                                                       "package_id": package_id, "links": links}, now))
        kind = "building.not_ready_for_first_registration" if reasons else "building.ready_for_first_registration"
        events.append(Event(kind, {"building": building, "package_id": package_id, "reasons": list(reasons),
                                   "links": {**links, "first_registration":
                                             f"/api/buildings/{building}/documents/first-registration"}}, now))
    return events
