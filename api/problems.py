"""Errors as RFC 9457 problem details: the one table from domain errors to HTTP.

Every error the library raises on purpose is a :class:`~cadastre.core.errors.CadastreError`; :data:`STATUS` maps its
class (the most specific match wins) to an HTTP status. The body is ``application/problem+json`` with ``type``
(a URI naming the error kind), ``title``, ``status``, ``detail`` (the Chinese message), ``detail_en`` and, for
rejected input, ``findings``. Request validation, unknown routes and bugs come out in the same shape; a bug never
shows a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadastre.core import errors

__all__ = ["STATUS", "Problem", "problem", "install", "PROBLEM_RESPONSES"]

log = logging.getLogger("cadastre.api")

TYPE_BASE = "https://cadastre.invalid/problems/"
MEDIA_TYPE = "application/problem+json"
#: the longest request path a problem names as its ``instance``
MAX_INSTANCE = 300

#: domain error class → (HTTP status, Chinese title). Order does not matter: the class's MRO decides.
STATUS: dict[type[errors.CadastreError], tuple[int, str]] = {
    errors.CadastreError: (400, "请求无法处理"),
    errors.InputError: (422, "输入数据有误"),
    errors.UnsafeArchiveError: (422, "压缩包不安全，已拒收"),
    errors.FindingsError: (422, "数据未通过检查"),
    errors.ZoningError: (422, "地籍区划未通过检查"),
    errors.CodeError: (400, "代码格式错误"),
    errors.AuthenticationError: (401, "未登录或凭据无效"),
    errors.TooManyAttempts: (429, "尝试过于频繁"),
    errors.PermissionDenied: (403, "无权操作"),
    errors.NotFoundError: (404, "未找到"),
    errors.Gone: (410, "已按保留期限删除"),
    errors.QuotaExceeded: (429, "上传配额已用完"),
    errors.ConflictError: (409, "与已有记录冲突"),
    errors.AllocationError: (409, "无法分配代码"),
    errors.ConfigError: (500, "服务配置错误"),
    errors.DatabaseError: (503, "数据库不可用"),
    errors.DatabaseUnavailable: (503, "数据库暂时不可用"),
    errors.StorageFull: (507, "存储空间不足"),
    errors.CorruptOriginal: (500, "原始文件损坏或缺失"),
}


class Problem(BaseModel):
    """RFC 9457 problem details (Chinese ``detail``; ``detail_en`` for developers)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    detail_en: str | None = None
    instance: str | None = None


def _status_of(error: errors.CadastreError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return STATUS[errors.CadastreError]


def problem(status: int, title: str, kind: str, detail: str | None = None, *, instance: str | None = None,
            headers: dict | None = None, **extra) -> JSONResponse:
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail, **extra}
    if instance and len(instance) <= MAX_INSTANCE:  # a problem never repeats a 10 000-character path
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_domain(error: errors.CadastreError, instance: str | None = None, *, basic: bool = False) -> JSONResponse:
    status, title = _status_of(error)
    extra = {}
    if isinstance(error, errors.FindingsError):
        extra["findings"] = [f.__dict__ if hasattr(f, "__dict__") else dict(f) for f in error.findings]
    if isinstance(error, errors.CodeError):
        extra.update(text=errors.shown(error.text), position=error.position)
    headers = None
    if status == 401:  # RFC 6750: a 401 names the scheme the client should use; Basic only to a client that sent
        # Basic (desktop GIS), lest a browser's own password dialog pop up over the pages' sign-in
        headers = {"WWW-Authenticate": 'Basic realm="cadastre", charset="UTF-8"' if basic else 'Bearer realm="cadastre"'}
    elif error.retry_after_s is not None:  # RFC 9110: when to try again
        headers = {"Retry-After": str(error.retry_after_s)}
    return problem(status, title, error.kind, error.message_zh, instance=instance, detail_en=error.message_en,
                   headers=headers, **extra)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""

    @app.exception_handler(errors.CadastreError)
    async def _domain(request: Request, error: errors.CadastreError):
        return from_domain(error, request.url.path,
                           basic=request.headers.get("authorization", "")[:6].lower() == "basic ")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError):
        issues = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": validation_message(e),
                   "problem_en": e.get("msg")} for e in error.errors()]
        detail = "；".join(f"{i['where']}：{i['problem']}" for i in issues)
        return problem(400, "请求参数有误", "invalid-request", f"请求参数有误：{detail}", instance=request.url.path,
                       errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException):
        titles = {404: "未找到", 405: "不支持此请求方法", 406: "无法提供所要求的格式", 413: "上传文件过大",
                  415: "不支持的内容类型"}
        title = titles.get(error.status_code, "请求无法处理")
        # Starlette's own details are English reason phrases ("Not Found"): say it in Chinese, keep the phrase
        english = error.detail if isinstance(error.detail, str) else None
        detail = _HTTP_DETAILS.get(error.status_code, title) if english in (None, *_REASONS) else english
        return problem(error.status_code, title, f"http-{error.status_code}", detail, instance=request.url.path,
                       headers=getattr(error, "headers", None), detail_en=english)

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "服务内部错误", "internal", "服务内部错误，已记录；请联系管理员", instance=request.url.path)


_HTTP_DETAILS = {404: "没有这个地址：请检查网址（接口列表见 /docs）", 405: "此地址不支持该请求方法",
                 406: "无法提供所要求的格式", 413: "上传文件过大", 415: "不支持的内容类型"}
_REASONS = {"Not Found", "Method Not Allowed", "Not Acceptable", "Request Entity Too Large", "Unsupported Media Type",
            "Content Too Large"}

#: pydantic's error types in Chinese (``ctx`` fills the figures)
_VALIDATION = {
    "missing": "缺少必填参数", "less_than_equal": "应不大于 {le}", "less_than": "应小于 {lt}",
    "greater_than_equal": "应不小于 {ge}", "greater_than": "应大于 {gt}", "int_parsing": "应为整数",
    "int_type": "应为整数", "float_parsing": "应为数字", "float_type": "应为数字", "bool_parsing": "应为 true 或 false",
    "string_too_short": "至少 {min_length} 个字符", "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符（应匹配 {pattern}）", "string_type": "应为文字", "literal_error": "应为 {expected}",
    "enum": "应为 {expected}", "json_invalid": "不是有效的 JSON", "model_attributes_type": "应为 JSON 对象",
    "dict_type": "应为 JSON 对象", "list_type": "应为列表", "datetime_parsing": "不是有效的时间（应为 ISO 8601）",
    "datetime_from_date_parsing": "不是有效的时间（应为 ISO 8601）", "date_parsing": "不是有效的日期（应为 YYYY-MM-DD）",
    "value_error": "值无效", "extra_forbidden": "不接受此参数",
}


def validation_message(error: dict) -> str:
    """One of pydantic's validation errors in Chinese (its own English message when the type is not known here)."""
    template = _VALIDATION.get(error.get("type", ""))
    if template is None:
        return str(error.get("msg"))
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template.split("（")[0]


def problem_response(status: int, description: str) -> dict:
    return {"model": Problem, "description": description, "content": {MEDIA_TYPE: {}}}


#: problem responses to document on routes: ``responses=PROBLEM_RESPONSES`` (OpenAPI)
PROBLEM_RESPONSES = {400: problem_response(400, "请求参数有误"), 401: problem_response(401, "未登录或令牌无效"),
                     403: problem_response(403, "无权操作"), 404: problem_response(404, "未找到"),
                     422: problem_response(422, "输入数据有误"), 500: problem_response(500, "服务内部错误"),
                     503: problem_response(503, "数据库暂时不可用（附 Retry-After，稍后重试）")}
