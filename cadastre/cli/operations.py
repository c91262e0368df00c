"""Operating a registry: backup, restore into an empty place, verify its invariants."""

from __future__ import annotations

from pathlib import Path

import click

from cadastre.cli.common import actor, cli, echo_json, print_problems, registry


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx: click.Context, folder: Path) -> None:
    """备份登记库：数据库的一致快照（SQLite：VACUUM INTO；PostgreSQL：pg_dump）与全部原始文件，附 SHA-256 清单。服务运行时即可执行。"""
    with registry(ctx) as reg:
        result = reg.backup(folder, actor=actor())
    m = result.manifest
    click.echo(f"已备份到 {folder}：数据库 {m['database']['path']}（{m['database']['size'] / 2**20:.1f} MB），"
               f"原始文件 {len(m['originals'])} 个；成果包 {m['counts']['package']}，宗地 {m['counts']['parcel']}，"
               f"户 {m['counts']['unit']}，已发放代码 {m['counts']['issued_code']}")
    for problem in result.problems:
        click.echo(f"  问题：{problem}", err=True)
    ctx.exit(1 if result.problems else 0)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--originals", type=click.Path(path_type=Path), help="原始文件目录（默认：数据库所在位置的 originals/）")
@click.pass_context
def restore(ctx: click.Context, folder: Path, originals: Path | None) -> None:
    """把备份恢复到空的位置（--db 指定的新 SQLite 文件或空的 PostgreSQL 数据库），先逐一核对备份文件的校验和，恢复后检查登记库。"""
    from cadastre.registry import database_url, redact, restore_registry

    url = database_url(ctx.obj["db"])
    with restore_registry(folder, url, originals=originals) as reg:
        problems = reg.verify()
        s = reg.summary()
    click.echo(f"已恢复到 {redact(url)}：宗地 {s.parcels}，自然幢 {s.buildings}，户 {s.units}，成果包 {s.packages}，"
               f"已发放代码 {s.issued_codes}")
    print_problems(problems)
    ctx.exit(1 if problems else 0)


@cli.command()
@click.option("--no-originals", is_flag=True, help="不核对原始文件的校验和（大的原始文件库较慢）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify(ctx: click.Context, no_originals: bool, as_json: bool) -> None:
    """检查登记库的不变量：原始文件校验和、代码唯一且对应、编码高水位、现势宗地不重叠、已受理成果包的数据完整。
    退出码 0：无问题；1：发现问题（逐条列出）；2：无法检查。"""
    with registry(ctx) as reg:
        problems = reg.verify(originals=not no_originals)
    if as_json:
        echo_json({"ok": not problems, "problems": [p.to_dict() for p in problems]})
    else:
        print_problems(problems)
    ctx.exit(1 if problems else 0)
