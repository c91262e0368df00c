"""Accounts, tokens and the audit log."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import UTC, timedelta

import click

from cadastre.cli.common import actor, cli, echo_json, registry
from cadastre.core.auth import Role

#: the roles, as cadastre.core.auth names them
ROLES = click.Choice([role.value for role in Role])


@cli.group()
def user() -> None:
    """用户与角色：surveyor 测绘单位、registrar 登记员、planner 规划、analyst 分析（权利人遮蔽）、integration 其他部门系统（读登记库与事件）、admin 管理员。"""


def _new_password(password_stdin: bool, generate: bool = False) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=ROLES)
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）")
@click.option("--generate-password", is_flag=True, help="生成随机密码并打印")
@click.option("--no-password", is_flag=True, help="不设密码：只用令牌的系统账户")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool, generate_password: bool,
             no_password: bool) -> None:
    """新增用户（登录用密码；系统账户用 --no-password 并以 cadastre token create 领取令牌）。"""
    password = None if no_password else _new_password(password_stdin, generate_password)
    with registry(ctx) as reg:
        reg.add_user(name, role, password=password, actor=actor())
    click.echo(f"已新增用户 {name}（{role}）" + (f"，密码：{password}" if generate_password else ""))


@user.command("set")
@click.argument("name")
@click.option("--role", type=ROLES)
@click.option("--password", "new_password", is_flag=True, help="设置新密码（提示输入）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码")
@click.option("--generate-password", is_flag=True, help="生成随机新密码并打印")
@click.option("--disable/--enable", default=None, help="停用（其令牌随即失效）或重新启用")
@click.option("--upload-quota", metavar="SIZE", help="每 24 小时上传配额，如 20GB、500MB；0 为不限；default 为服务默认值")
@click.pass_context
def user_set(ctx: click.Context, name: str, role: str | None, new_password: bool, password_stdin: bool,
             generate_password: bool, disable: bool | None, upload_quota: str | None) -> None:
    """修改用户的角色、密码、上传配额，或停用/启用。"""
    wanted = new_password or password_stdin or generate_password
    password = _new_password(password_stdin, generate_password) if wanted else None
    quota = None if upload_quota is None else _bytes(upload_quota)
    with registry(ctx) as reg:
        reg.update_user(name, role=role, password=password, disabled=disable, upload_quota=quota, actor=actor())
    click.echo(f"已修改用户 {name}" + (f"，新密码：{password}" if generate_password else ""))


def _bytes(text: str) -> int | str:
    """A size as people write it (``20GB``, ``500 MB``, ``1024``), or ``default``."""
    text = text.strip().upper().replace(" ", "")
    if text == "DEFAULT":
        return "default"
    for unit, factor in (("GB", 1 << 30), ("G", 1 << 30), ("MB", 1 << 20), ("M", 1 << 20), ("KB", 1 << 10),
                         ("K", 1 << 10), ("B", 1)):
        if text.endswith(unit):
            number, factor = text[: -len(unit)], factor
            break
    else:
        number, factor = text, 1
    try:
        return int(float(number) * factor)
    except ValueError:
        raise click.BadParameter(f"无法识别的大小 {text}（如 20GB、500MB、0、default）") from None


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """列出用户。"""
    with registry(ctx) as reg:
        frame = reg.users()
    for row in frame.itertuples():
        state = "已停用" if row.disabled_at is not None else ("密码登录" if row.has_password else "仅令牌")
        quota = row.upload_quota_bytes
        shown = "" if quota is None or quota != quota else ("  上传不限" if quota == 0 else
                                                             f"  上传配额 {quota / 2**30:.1f} GB/天")
        click.echo(f"{row.name:<24} {row.role:<10} {state}{shown}")


@cli.group()
def token() -> None:
    """访问令牌：供系统调用 API（Authorization: Bearer 令牌）。"""


@token.command("create")
@click.option("--user", "name", required=True, help="用户名")
@click.option("--role", type=ROLES,
              help="令牌的角色（默认用户的角色；管理员可为系统领取较低角色的令牌）")
@click.option("--days", type=click.IntRange(1, 3650), help="有效天数（默认长期有效，直到吊销）")
@click.option("--label", help="用途说明，如“税务局接口”")
@click.pass_context
def token_create(ctx: click.Context, name: str, role: str | None, days: int | None, label: str | None) -> None:
    """生成令牌并打印（只显示这一次；登记库只保存其 SHA-256）。"""
    with registry(ctx) as reg:
        issued = reg.issue_token(name, role=role, label=label,
                                 lifetime=timedelta(days=days) if days else None, actor=actor())
    until = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.expires_at else "吊销为止"
    click.echo(f"令牌 {issued.id}（{issued.name}，{issued.role}，有效至 {until}）：", err=True)
    click.echo(issued.token)


@token.command("list")
@click.option("--user", "name", help="只列此用户的令牌")
@click.pass_context
def token_list(ctx: click.Context, name: str | None) -> None:
    """列出令牌（不含令牌本身）。"""
    with registry(ctx) as reg:
        frame = reg.tokens(name)
    for row in frame.itertuples():
        state = "已吊销" if row.revoked_at is not None else f"有效至 {row.expires_at or '吊销为止'}"
        click.echo(f"{row.id:>5} {row.name:<20} {row.role:<10} {row.kind:<8} {state}  {row.label or ''}")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """吊销令牌（立即失效）。"""
    with registry(ctx) as reg:
        reg.revoke_token(token_id, actor=actor())
    click.echo(f"已吊销令牌 {token_id}")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
              help="起始时间（UTC），如 2026-11-01")
@click.option("--user", "name", help="只看此用户")
@click.option("--action", help="只看此类操作，如 owners.read、package.accept")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit(ctx: click.Context, since, name: str | None, action: str | None, limit: int, as_json: bool) -> None:
    """审计日志：每次写入和每次读取权利人信息——谁、何时、做了什么、从哪里。"""
    with registry(ctx) as reg:
        frame = reg.audit_log(since=since.replace(tzinfo=UTC) if since else None, user=name, action=action,
                              limit=limit)
    if as_json:
        echo_json(frame.astype(object).where(frame.notna(), None).to_dict("records"))
        return
    for row in frame.itertuples():
        detail = json.dumps(row.detail, ensure_ascii=False) if row.detail else ""
        click.echo(f"{str(row.at)[:19]}  {row.actor:<16} {row.role or '':<9} {row.action:<16} "
                   f"{row.target or '':<28} {row.source or '':<12} {detail}")
