"""Events for other offices (issue 25): the feed, and webhook subscriptions for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from api.deps import JSON, PrincipalDep, RegistryDep, allowed
from api.problems import PROBLEM_RESPONSES
from cadastre.core.auth import Permission

router = APIRouter(prefix="/api", responses=PROBLEM_RESPONSES, tags=["事件与订阅"])
EVENTS = allowed(Permission.READ_EVENTS, "读取事件")
ADMIN = allowed(Permission.ADMINISTER, "管理订阅")


@router.get("/events", response_class=JSON, dependencies=[EVENTS])
def events(registry: RegistryDep,
           after: Annotated[int, Query(ge=0, le=2**53 - 1, description="只返回此编号之后的事件（上次读到的最后一个 id）")] = 0,
           types: Annotated[str | None, Query(max_length=1000, description="事件类型，逗号分隔；不填为全部")] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """事件（按提交顺序）：成果包接收/受理/退回/拒收、代码发放与注销、楼盘表变化、首次登记条件、规划许可、存量数据导入。
    用 `next_after` 作为下次的 `after` 续读；不含权利人姓名。"""
    found = registry.events(after=after, types=types, limit=limit)
    return {"events": found, "next_after": found[-1]["id"] if found else after}


@router.get("/subscriptions", response_class=JSON, dependencies=[ADMIN])
def subscriptions(registry: RegistryDep):
    """Webhook 订阅及其投递状态（不含密钥）。"""
    return {"subscriptions": registry.subscriptions()}


@router.post("/subscriptions", response_class=JSON, status_code=201, dependencies=[ADMIN])
def add_subscription(registry: RegistryDep, principal: PrincipalDep,
                     url: Annotated[str, Body(max_length=2000)],
                     types: Annotated[list[str] | None, Body(max_length=20)] = None,
                     description: Annotated[str | None, Body(max_length=500)] = None):
    """新增 webhook 订阅（只此一次返回签名密钥 secret，接收方据此验证 webhook-signature）。"""
    subscription_id, secret = registry.add_subscription(url, types=types, description=description,
                                                        actor=principal)
    return {"id": subscription_id, "secret": secret}


@router.post("/subscriptions/{subscription_id}/enable", status_code=204, dependencies=[ADMIN])
def enable(registry: RegistryDep, principal: PrincipalDep, subscription_id: int):
    """恢复投递（从停下的地方继续）。"""
    registry.set_subscription_enabled(subscription_id, True, actor=principal)


@router.post("/subscriptions/{subscription_id}/disable", status_code=204, dependencies=[ADMIN])
def disable(registry: RegistryDep, principal: PrincipalDep, subscription_id: int):
    """暂停投递（事件保留，恢复后按顺序补发）。"""
    registry.set_subscription_enabled(subscription_id, False, actor=principal)


@router.delete("/subscriptions/{subscription_id}", status_code=204, dependencies=[ADMIN])
def delete(registry: RegistryDep, principal: PrincipalDep, subscription_id: int):
    """删除订阅及其投递失败记录。"""
    registry.delete_subscription(subscription_id, actor=principal)


@router.post("/subscriptions/{subscription_id}/test", response_class=JSON, dependencies=[ADMIN])
def test(registry: RegistryDep, subscription_id: int):
    """立即发送一条已签名的测试消息（subscription.test），返回对方是否接收。"""
    error = registry.test_subscription(subscription_id)
    return {"delivered": error is None, "error": error}


@router.get("/subscriptions/dead-letters", response_class=JSON, dependencies=[ADMIN])
def dead_letters(registry: RegistryDep, subscription: Annotated[int | None, Query(ge=1, le=2**53 - 1)] = None):
    """重试期满仍未送达的事件（可重发）。"""
    return {"dead_letters": registry.dead_letters(subscription)}


@router.post("/subscriptions/dead-letters/{dead_id}/replay", response_class=JSON, dependencies=[ADMIN])
def replay(registry: RegistryDep, principal: PrincipalDep, dead_id: int):
    """重发一条投递失败的事件（相同 webhook-id）。"""
    error = registry.replay(dead_id, actor=principal)
    return {"delivered": error is None, "error": error}
