"""The ``parsl`` command.

``parsl plugins`` lists every installed component (executors, providers, launchers,
staging providers, serializers, monitoring radios, hook plugins and compatibility
modules) with the distribution and version that provides it, read from installed
metadata without importing any plugin. Names claimed by two distributions are reported
as ``CONFLICT`` lines, and the command then exits with status 1.

``parsl logs timeline|latency|trace|plot RUN_DIR ...`` reads a run's logs back (see
:mod:`parsl.logview`).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence, TextIO

from parsl.plugins import registry
from parsl.version import VERSION


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                  + "\n")


def _plugins(args: argparse.Namespace, out: TextIO) -> int:
    found = registry.components(args.kind)
    if args.kind is None:
        found = found + registry.hook_plugins()
        if args.all:
            found = found + sorted(registry.compat_modules().values(),
                                   key=lambda c: c.name)
    rows: List[Sequence[str]] = [("KIND", "NAME", "DISTRIBUTION", "VERSION")]
    rows += [(c.kind, c.name, c.distribution, c.version) for c in found]
    _table(rows, out)
    conflicts = registry.conflicts(args.kind)
    for conflict in conflicts:
        out.write(f"CONFLICT: {conflict}\n")
    return 1 if conflicts else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parsl", description="Parsl: parallel scripting in Python.")
    parser.add_argument("--version", action="version", version=f"parsl-core {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = commands.add_parser(
        "plugins", help="list installed components by kind, name, distribution and version",
        description="List installed Parsl components without importing them.")
    plugins.add_argument("--kind", choices=sorted(registry.KINDS),
                         help="only components of this kind")
    plugins.add_argument("--all", action="store_true",
                         help="also list compatibility module paths (parsl.providers.slurm...)")
    plugins.set_defaults(handler=_plugins)
    from parsl.logview.cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``parsl`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        status: int = handler(args, sys.stdout)
    except FileNotFoundError as e:
        sys.stderr.write(f"parsl: {e}\n")
        return 2
    except BrokenPipeError:
        # The reader went away (`parsl logs ... | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
