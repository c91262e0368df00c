"""Signing in (the OAuth2 password flow), who am I, signing out, and the audit log for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request

from api.deps import JSON, PrincipalDep, RegistryDep, allowed, client_address
from api.problems import PROBLEM_RESPONSES
from cadastre.core.auth import ROLE_PERMISSIONS, Permission, Principal

router = APIRouter(prefix="/api", tags=["登录与审计"], responses=PROBLEM_RESPONSES)


@router.post("/token", response_class=JSON)
def sign_in(request: Request, registry: RegistryDep,
            username: Annotated[str, Form(min_length=1, max_length=64)],
            password: Annotated[str, Form(min_length=1, max_length=256)]):
    """登录（OAuth2 密码模式）：用户名和密码换取短期令牌（8 小时），之后以 `Authorization: Bearer 令牌` 访问。"""
    issued = registry.login(username, password, source=client_address(request))
    lifetime = (issued.expires_at - datetime.now(issued.expires_at.tzinfo)).total_seconds()
    return {**issued.to_dict(), "expires_in": int(lifetime)}


@router.delete("/token", status_code=204)
def sign_out(registry: RegistryDep, principal: PrincipalDep):
    """退出登录：吊销当前令牌。"""
    registry.revoke_token(principal.token_id, actor=principal)


@router.get("/me", response_class=JSON)
async def who_am_i(principal: PrincipalDep):
    """当前用户、角色与权限。"""
    return {"name": principal.name, "role": principal.role.value,
            "permissions": sorted(p.value for p in ROLE_PERMISSIONS[principal.role])}


@router.get("/audit", response_class=JSON)
def audit_log(registry: RegistryDep,
              admin: Annotated[Principal, allowed(Permission.ADMINISTER, "查看审计日志")],
              since: Annotated[datetime | None, Query(description="起始时间（ISO 8601）")] = None,
              user: Annotated[str | None, Query(max_length=64)] = None,
              action: Annotated[str | None, Query(max_length=32)] = None,
              limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """审计日志（仅管理员）：每次写入与每次读取权利人信息，谁、何时、做了什么、从哪里。"""
    frame = registry.audit_log(since=since, user=user, action=action, limit=limit)
    return {"events": frame.astype(object).where(frame.notna(), None).to_dict("records")}
