"""Survey packages: upload (processed in the background), status and progress, report, original, findings,
waivers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Request, Response, UploadFile
from fastapi import Path as FastPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from api.deps import JSON, PrincipalDep, RegistryDep, allowed
from api.problems import PROBLEM_RESPONSES, problem_response
from cadastre.core.auth import Permission, Principal
from cadastre.core.catalogue import SEVERITY_NAMES
from cadastre.core.errors import ConflictError, NotFoundError
from cadastre.core.progress import PROCESSING_NAMES
from cadastre.core.settings import service as service_settings

#: a package number (database ids are 32-bit on every engine)
PackageId = Annotated[int, FastPath(ge=1, le=2**31 - 1, description="成果包编号")]

router = APIRouter(prefix="/api/packages", tags=["成果包"], responses=PROBLEM_RESPONSES)

def _upload_name(filename: str | None) -> str:
    """The client's file name as recorded: its last path part, without control characters, at most 200
    characters (the extension kept)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "package.zip"
    if len(name) > 200:
        suffix = Path(name).suffix[:10]
        name = name[:200 - len(suffix)] + suffix
    return name


def _visible(registry, principal: Principal, package_id: int, *, report: bool = False):
    """The package, if ``principal`` may see it: every package for roles that read all, their own for the
    others. Someone else's package answers 404 (as if absent: its number says nothing about it). Its report is
    the summary (its per-unit lists at ``/report``), as the stored JSON text, written into the response as it is."""
    state = registry.package(package_id, report=report, summary=True, embedded=True)
    if not principal.can(Permission.READ_ALL_PACKAGES) and state.submitted_by != principal.name:
        raise NotFoundError(f"成果包 {package_id} 不存在", f"package {package_id} does not exist")  # as if absent
    return state


def _state(state, *, report: bool) -> dict:
    out = state.to_dict(report=report)
    out["stage_name"] = PROCESSING_NAMES.get(state.stage, state.stage)
    if state.status == "refused" and state.original_purged_at is None and state.decided_at is not None:
        days = float(service_settings()["uploads"]["refused_retention_days"])
        out["retained_until"] = (state.decided_at + timedelta(days=days)).isoformat()  # then its bytes are deleted
    out["links"] = {"self": f"/api/packages/{state.id}", "report": f"/api/packages/{state.id}/report",
                    "report_html": f"/api/packages/{state.id}/report.html",
                    "original": f"/api/packages/{state.id}/original", "findings": f"/api/packages/{state.id}/findings",
                    "findings_geojson": f"/collections/findings/items?package={state.id}&limit=10000"}
    return out


#: the longest a client may ask to be kept waiting for a change (``Prefer: wait``), and how often it is looked for;
#: a package this process is processing announces its changes (``IngestWorker.watching``) and is looked at every
#: QUIET_S besides
MAX_WAIT_S = 30.0
WAIT_STEP_S = 0.1
QUIET_S = 1.0


def _wait_asked(prefer: str | None) -> float:
    """Seconds of RFC 7240 ``Prefer: wait=N`` (0 without it), at most :data:`MAX_WAIT_S`."""
    found = re.search(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,6})", prefer or "", re.IGNORECASE)
    return min(float(found.group(1)), MAX_WAIT_S) if found else 0.0


@router.post("", status_code=202, response_class=JSON,
             responses={202: {"description": "已接收，后台处理中；进度见 Location"},
                        413: problem_response(413, "上传文件过大"), 409: problem_response(409, "冲突"),
                        429: problem_response(429, "上传配额已用完（附 Retry-After）"),
                        507: problem_response(507, "存储空间不足")})
async def upload_package(request: Request, registry: RegistryDep,
                         surveyor: Annotated[Principal, allowed(Permission.UPLOAD, "上传成果包")],
                         file: Annotated[UploadFile, File(description="成果包：zip（shapefile、文件地理数据库 .gdb、表格）、"
                                                                      "GeoPackage、GeoJSON 或个人地理数据库 .mdb")]):
    """上传成果包（测绘单位、管理员）：立即返回成果包编号，后台完成读取、检查、入库与编码。提交人为登录用户。"""
    name = _upload_name(file.filename)
    with tempfile.TemporaryDirectory(prefix="cadastre-upload-") as folder:
        # the client's file name is only recorded, never used as a path: the bytes go to a name of ours, and what
        # they are (zip, GeoPackage, GeoJSON, personal geodatabase) is read from their content when processed
        target = Path(folder) / "upload.bin"
        with target.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out, 1 << 20)
        received = await run_in_threadpool(registry.receive, target, filename=name, submitted_by=surveyor.name,
                                           actor=surveyor)
    state = await run_in_threadpool(registry.package, received.package_id, report=False)
    if received.duplicate and state.submitted_by != surveyor.name and not surveyor.can(Permission.READ_ALL_PACKAGES):
        raise ConflictError(f"同一文件（SHA-256 {received.sha256[:12]}…）已由其他单位提交，成果包不再重复接收",
                            "the same bytes were submitted by someone else")
    # the same bytes again: a package whose processing failed is tried again now
    request.app.state.worker.submit(received.package_id, surveyor, retry=received.duplicate)
    body = {**_state(state, report=False), "duplicate": received.duplicate}
    return JSON(body, status_code=202, headers={"Location": f"/api/packages/{received.package_id}"})


@router.get("", response_class=JSON)
def list_packages(registry: RegistryDep, principal: PrincipalDep, submitted_by: str | None = Query(None, max_length=100),
                  status: str | None = Query(None, pattern="^(received|accepted|rejected|refused|superseded)$"),
                  limit: int = Query(50, ge=1, le=500), before: int | None = Query(None, ge=1, le=2**31 - 1)):
    """成果包列表（新的在前）；before 为上一页最后一个编号。测绘单位只看到自己提交的。"""
    if not principal.can(Permission.READ_ALL_PACKAGES):
        submitted_by = principal.name
    states = registry.packages(submitted_by=submitted_by, status=status, limit=limit, before=before)
    return JSON({"packages": [_state(s, report=False) for s in states],
                 "next": f"/api/packages?limit={limit}&before={states[-1].id}" if len(states) == limit else None})


@router.get("/{package_id}", response_class=JSON,
            responses={304: {"description": "等待期间状态没有变化（If-None-Match 与 Prefer: wait）"}})
async def get_package(request: Request, registry: RegistryDep, principal: PrincipalDep, package_id: PackageId,
                      prefer: Annotated[str | None, Header(description="wait=N：状态与 If-None-Match 相同时，"
                                                                       "最多等 N 秒（上限 30）再答复")] = None,
                      if_none_match: Annotated[str | None, Header(description="已有状态的 ETag（即 version）")] = None):
    """成果包状态、处理进度（阶段与百分比）和质检报告摘要（逐户的编码与面积对比见 /report）。

    带 If-None-Match（上次答复的 ETag）与 Prefer: wait=N 时，状态一有变化（进度、结论）即答复，N 秒内没有变化则答复 304：
    页面以此跟随处理进度，不必反复查询。"""
    known = (if_none_match or "").strip().removeprefix("W/").strip('"')
    if known:  # the state without its report first: unchanged, nothing else is read
        worker = request.app.state.worker
        with worker.watching(package_id) as changed:  # taken before the first read: no change is missed
            state = await run_in_threadpool(_visible, registry, principal, package_id)
            deadline = time.monotonic() + _wait_asked(prefer)
            while state.version == known and time.monotonic() < deadline:  # each look: one small indexed query
                left = max(deadline - time.monotonic(), 0.0)
                if worker.processing(package_id):  # woken by its worker as it records (looked at now and then)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), min(QUIET_S, left))
                else:  # processed by another server process, or changed by a request: looked for
                    await asyncio.sleep(min(WAIT_STEP_S, left))
                changed.clear()
                state = await run_in_threadpool(registry.package, package_id, report=False)
        if state.version == known:
            return Response(status_code=304, headers={"ETag": f'"{known}"'})
    state = await run_in_threadpool(_visible, registry, principal, package_id, report=True)
    return JSON(_state(state, report=True), headers={"ETag": f'"{state.version}"'})


@router.get("/{package_id}/report", response_class=JSON, responses={409: problem_response(409, "尚在处理中")})
def package_report(registry: RegistryDep, principal: PrincipalDep, package_id: PackageId):
    """完整的质检报告 JSON（即入库 ingest 的结果）：含逐户的编码（assigned）与预测/实测面积对比（comparison）。"""
    _visible(registry, principal, package_id)
    # straight to JSON (see deps.JSON), as stored: a project's report lists its 40 800 units, and FastAPI's own
    # encoding pass over it took 3 s, parsing and encoding it again 0.3–0.5 s
    return JSON(registry.report_json(package_id, embedded=True))


@router.get("/{package_id}/report.html", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}}, 409: problem_response(409, "尚在处理中")})
def package_report_html(registry: RegistryDep, principal: PrincipalDep, package_id: PackageId):
    """中文质检报告（HTML）。"""
    _visible(registry, principal, package_id)
    return HTMLResponse(registry.report_html(package_id))


@router.get("/{package_id}/original", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "原始文件，逐字节"},
                       410: problem_response(410, "被拒收的文件已按保留期限删除")})
def package_original(registry: RegistryDep, principal: PrincipalDep, package_id: PackageId):
    """上传的原始文件（逐字节，附 SHA-256）：提交人本人、登记员、管理员（原始文件含权利人信息）。"""
    state = _visible(registry, principal, package_id)
    if state.submitted_by != principal.name:
        principal.require(Permission.READ_ORIGINALS, "下载他人提交的原始文件（含权利人信息）")
    original = registry.original(package_id, verify=True)  # bytes that no longer match their SHA-256: refused
    registry.audit("original.read", package_id, actor=principal, detail={"sha256": original.sha256})
    return FileResponse(original.path, filename=original.filename, media_type="application/octet-stream",
                        headers={"ETag": f'"{original.sha256}"', "X-Content-SHA256": original.sha256})


@router.get("/{package_id}/findings", response_class=JSON)
def package_findings(registry: RegistryDep, principal: PrincipalDep, package_id: PackageId):
    """成果包的全部问题及豁免情况。"""
    _visible(registry, principal, package_id)
    frame = registry.findings(package_id).drop(columns="geometry")
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for r in records:
        r["severity_name"] = SEVERITY_NAMES.get(r["severity"], r["severity"])
    return JSON({"package_id": package_id, "findings": records})


class WaiverIn(BaseModel):
    rule: str = Field(min_length=1, max_length=16, description="规则编号，如 GEO-001")
    feature: str | None = Field(None, max_length=200, description="要素（无则为空）")
    reason: str = Field(min_length=1, max_length=2000, description="豁免理由")


@router.post("/{package_id}/waivers", status_code=201, response_class=JSON,
             responses={201: {"description": "已豁免"}, 409: problem_response(409, "该问题已豁免")})
def waive_finding(registry: RegistryDep, package_id: PackageId, waiver: WaiverIn,
                  registrar: Annotated[Principal, allowed(Permission.WAIVE, "豁免问题")]):
    """豁免成果包中的一个问题（登记员、管理员；记录豁免人与理由，不可修改）。全部错误豁免后，重新处理即可受理。"""
    record = registry.waive(package_id, waiver.rule, waiver.feature, by=registrar.name, reason=waiver.reason,
                            actor=registrar)
    return JSON(record.__dict__, status_code=201)


@router.post("/{package_id}/process", status_code=202, response_class=JSON,
             responses={202: {"description": "已排队"}, 409: problem_response(409, "已受理或已拒收，不能重新处理")})
def reprocess_package(request: Request, registry: RegistryDep, package_id: PackageId,
                      registrar: Annotated[Principal, allowed(Permission.WAIVE, "重新处理成果包")]):
    """重新处理成果包（登记员、管理员）：被退回的成果包在错误全部豁免后由此受理；处理失败或等待重试的成果包立即重试。"""
    state = registry.package(package_id, report=False)
    if state.status in ("accepted", "refused"):
        what = "已受理" if state.status == "accepted" else "已拒收"
        raise ConflictError(f"成果包 {package_id} {what}，不能重新处理", f"package {package_id} is {state.status}")
    request.app.state.worker.submit(package_id, registrar, retry=True)
    return JSON(_state(state, report=False), status_code=202)
