"""Events for other offices: ``cadastre events`` (the feed) and ``cadastre subscription add | list | enable |
disable | delete | test | dead-letters | replay`` (webhooks, for administrators)."""

from __future__ import annotations

import click

from cadastre.cli.common import actor, cli, echo_json, registry


@cli.command("events")
@click.option("--after", type=int, default=0, help="只列此编号之后的事件")
@click.option("--types", help="事件类型，逗号分隔")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def events(ctx: click.Context, after: int, types: str | None, limit: int, as_json: bool) -> None:
    """事件（按提交顺序）：其他部门系统据此获知成果包、代码、楼盘表与首次登记条件的变化。"""
    with registry(ctx) as reg:
        found = reg.events(after=after, types=types, limit=limit)
    if as_json:
        echo_json(found)
        return
    for event in found:
        click.echo(f"{event['id']:>8}  {event['time'][:19]}  {event['type']:<42} {_brief(event['data'])}")


def _brief(data: dict) -> str:
    keys = ("package_id", "building", "number", "lot_id")
    return "  ".join(f"{k}={data[k]}" for k in keys if k in data)


@cli.group()
def subscription() -> None:
    """Webhook 订阅（管理员）：按 Standard Webhooks 约定签名推送事件，失败按退避重试 27 小时，之后可重发。"""


@subscription.command("add")
@click.argument("url")
@click.option("--events", "types", help="事件类型，逗号分隔；不填为全部")
@click.option("--description", help="说明（如：住建局楼盘表系统）")
@click.pass_context
def add(ctx: click.Context, url: str, types: str | None, description: str | None) -> None:
    """新增订阅；最后一行是签名密钥（只显示这一次，请交给接收方保存）。"""
    with registry(ctx) as reg:
        subscription_id, secret = reg.add_subscription(url, types=types, description=description, actor=actor())
    click.echo(f"已新增订阅 {subscription_id}：{url}（{types or '全部事件'}）；签名密钥只显示这一次：")
    click.echo(secret)


@subscription.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """列出订阅及投递状态。"""
    with registry(ctx) as reg:
        rows = reg.subscriptions()
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = "已停用" if r["disabled_at"] else (f"重试中（第 {r['attempts']} 次失败：{r['last_error']}）"
                                                  if r["attempts"] else "正常")
        click.echo(f"{r['id']:>4}  {r['url']}  {','.join(r['types'] or ['全部'])}  已送达 {r['delivered']}，"
                   f"至事件 {r['cursor']}；{state}；待重发 {r['dead']}")


@subscription.command("disable")
@click.argument("subscription_id", type=int)
@click.pass_context
def disable(ctx: click.Context, subscription_id: int) -> None:
    """暂停投递（事件保留，恢复后按顺序补发）。"""
    with registry(ctx) as reg:
        reg.set_subscription_enabled(subscription_id, False, actor=actor())
    click.echo(f"订阅 {subscription_id} 已停用")


@subscription.command("enable")
@click.argument("subscription_id", type=int)
@click.pass_context
def enable(ctx: click.Context, subscription_id: int) -> None:
    """恢复投递。"""
    with registry(ctx) as reg:
        reg.set_subscription_enabled(subscription_id, True, actor=actor())
    click.echo(f"订阅 {subscription_id} 已恢复")


@subscription.command("delete")
@click.argument("subscription_id", type=int)
@click.pass_context
def delete(ctx: click.Context, subscription_id: int) -> None:
    """删除订阅及其投递失败记录。"""
    with registry(ctx) as reg:
        reg.delete_subscription(subscription_id, actor=actor())
    click.echo(f"订阅 {subscription_id} 已删除")


@subscription.command("test")
@click.argument("subscription_id", type=int)
@click.pass_context
def test(ctx: click.Context, subscription_id: int) -> None:
    """立即发送一条已签名的测试消息。退出码 0：对方已接收；1：未接收。"""
    with registry(ctx) as reg:
        error = reg.test_subscription(subscription_id)
    click.echo("对方已接收测试消息" if error is None else f"未送达：{error}")
    ctx.exit(0 if error is None else 1)


@subscription.command("dead-letters")
@click.option("--subscription", "subscription_id", type=int)
@click.pass_context
def dead_letters(ctx: click.Context, subscription_id: int | None) -> None:
    """重试期满仍未送达的事件。"""
    with registry(ctx) as reg:
        rows = reg.dead_letters(subscription_id)
    for r in rows:
        click.echo(f"{r['id']:>6}  订阅 {r['subscription_id']}  事件 {r['event_id']} {r['type']}  "
                   f"{r['attempts']} 次失败：{r['last_error']}")
    if not rows:
        click.echo("没有投递失败的事件")


@subscription.command("replay")
@click.argument("dead_id", type=int)
@click.pass_context
def replay(ctx: click.Context, dead_id: int) -> None:
    """重发一条投递失败的事件（相同 webhook-id）。退出码 0：已送达；1：仍未送达。"""
    with registry(ctx) as reg:
        error = reg.replay(dead_id, actor=actor())
    click.echo("已重发并送达" if error is None else f"仍未送达：{error}")
    ctx.exit(0 if error is None else 1)
