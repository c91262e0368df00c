"""What every command shares: the ``cadastre`` group (domain errors as a Chinese message and exit status 2), the
registry it opens, who runs it (for the audit log), JSON output, a progress bar, and the list of problems."""

from __future__ import annotations

import getpass
import json
import os
import sys
import traceback
from contextlib import contextmanager

import click

from cadastre import __version__
from cadastre.core.auth import Principal, Role
from cadastre.core.errors import CadastreError, DatabaseError, FindingsError
from cadastre.core.progress import PROCESSING_NAMES

__all__ = ["cli", "EXIT_REFUSED", "EXIT_INTERNAL", "echo_json", "actor", "registry", "existing_registry",
           "progress_bar", "print_problems"]

EXIT_REFUSED = 2
EXIT_INTERNAL = 3


def echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


class _Group(click.Group):
    """Turns domain errors into a Chinese message and exit status 2 — never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CadastreError as e:
            click.echo(f"错误：{e.message_zh}", err=True)
            if isinstance(e, FindingsError):
                for f in e.findings:
                    click.echo(f"  [{f.rule} {f.severity}] {f.message}", err=True)
            if os.environ.get("CADASTRE_DEBUG"):
                traceback.print_exc()
            ctx.exit(EXIT_REFUSED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug: say so plainly, keep the details for developers
            click.echo(f"内部错误：{type(e).__name__}: {e}（设置 CADASTRE_DEBUG=1 可查看详细信息）", err=True)
            if os.environ.get("CADASTRE_DEBUG"):
                traceback.print_exc()
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group)
@click.option("--db", "db_url", envvar="CADASTRE_DB", metavar="URL",
              help="数据库地址 (sqlite:///path 或 postgresql://…)；默认 CADASTRE_DB 或 sqlite:///var/cadastre.sqlite")
@click.version_option(__version__, prog_name="cadastre")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """cadastre：不动产测绘成果检查、编码与服务。"""
    ctx.obj = {"db": db_url}


def actor() -> Principal:
    """Who runs the command, for the audit log: the operating-system user on this machine (whoever can run the
    CLI here can open the database itself)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal(name, Role.ADMIN, "cli")


def registry(ctx: click.Context):
    """The registry ``--db`` names (its database must exist and be initialised)."""
    from cadastre.registry import open_registry

    return open_registry(ctx.obj["db"])


def existing_registry(ctx: click.Context):
    """The registry when its database exists and is initialised (never creates one), else None."""
    from cadastre.registry import open_registry

    try:
        return open_registry(ctx.obj["db"])
    except DatabaseError:
        return None


@contextmanager
def progress_bar(*, enabled: bool):
    """A progress callback drawing a bar on the terminal (stderr), or None when not on a terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    with click.progressbar(length=1000, label=PROCESSING_NAMES["reading"], file=sys.stderr, width=30,
                           show_percent=True, show_eta=False) as bar:
        def progress(stage: str, fraction: float) -> None:
            bar.label = PROCESSING_NAMES.get(stage, stage).ljust(8)
            bar.update(int(1000 * fraction) - bar.pos)

        yield progress
        bar.update(1000 - bar.pos)


def print_problems(problems) -> None:
    from cadastre.registry.operations import CHECKS

    if not problems:
        click.echo("检查通过：" + "、".join(CHECKS.values()))
    for problem in problems:
        click.echo(f"  [{CHECKS[problem.check]}] {problem.message}")
        for item in problem.items:
            click.echo(f"      {item}")
