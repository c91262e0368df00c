"""The ``cadastre`` command line: the click group (``common``) and one module of commands per topic — ``setup``
(init, zones, samples, counties, summary), ``packages`` (check, ingest, findings, waive, purge-refused, rules,
explain), ``data`` (table, parcel, export, units-list, permit), ``accounts`` (user, token, audit) and
``operations`` (backup, restore, verify). Each command is a thin shell over a ``Registry`` method or a library
function; ``serve`` comes from ``api`` through the ``cadastre.commands`` entry point.

The registry, the sample data and the serving layer are imported inside the commands that use them, so that the
command line starts in under a second (``cadastre --help``, ``explain``), not in the three it takes to load them.

Errors the user can act on print a Chinese message (with findings, if any) and exit with status 2; nothing prints
a traceback unless ``CADASTRE_DEBUG=1``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from cadastre.cli import accounts, baseline, data, documents, events, operations, packages, setup  # noqa: F401 - the commands register on import
from cadastre.cli.common import EXIT_INTERNAL, EXIT_REFUSED, cli

__all__ = ["cli", "main", "EXIT_REFUSED", "EXIT_INTERNAL"]


def _plugin_commands() -> None:
    """Add commands other packages provide through the ``cadastre.commands`` entry point (``serve`` from ``api``).
    A plugin whose dependencies are missing is left out."""
    for entry in entry_points(group="cadastre.commands"):
        try:
            cli.add_command(entry.load(), entry.name)
        except ImportError:
            continue


_plugin_commands()


def main() -> None:
    cli(prog_name="cadastre")
