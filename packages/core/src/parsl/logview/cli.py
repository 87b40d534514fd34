"""``parsl logs ...``: the subcommands that read a run's logs back."""
from __future__ import annotations

import argparse
import json
from typing import Any, TextIO


def add_commands(commands: Any) -> None:
    """Register ``parsl logs`` and its subcommands on the ``parsl`` parser."""
    logs = commands.add_parser(
        "logs", help="read a run's logs: task timelines, step latencies, traces, plots",
        description="Merge the logs of every process of a run (runinfo/NNN).")
    sub = logs.add_subparsers(dest="logs_command", metavar="SUBCOMMAND", required=True)

    timeline = sub.add_parser("timeline", help="every record of one task, in time order")
    timeline.add_argument("run_dir", metavar="RUN_DIR")
    timeline.add_argument("task_id", metavar="TASK_ID", type=int)
    timeline.add_argument("--json", action="store_true", help="one JSON object per line")
    timeline.set_defaults(handler=_timeline)

    latency = sub.add_parser("latency", help="median and p95 time of each step of a task")
    latency.add_argument("run_dir", metavar="RUN_DIR")
    latency.add_argument("--min-tasks", type=int, default=None,
                         help="hide groups with fewer tasks than this")
    latency.set_defaults(handler=_latency)

    trace = sub.add_parser("trace", help="the run as a Chrome/Perfetto trace")
    trace.add_argument("run_dir", metavar="RUN_DIR")
    trace.add_argument("-o", "--output", required=True, help="trace file to write (JSON)")
    trace.set_defaults(handler=_trace)

    plot = sub.add_parser("plot", help="an HTML page of queue lengths (and of one task)")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("-o", "--output", required=True, help="HTML file to write")
    plot.add_argument("--task", type=int, default=None, help="also plot this task's timeline")
    plot.set_defaults(handler=_plot)


def _timeline(args: argparse.Namespace, out: TextIO) -> int:
    from parsl.logview.timeline import task_records, write_timeline

    records = task_records(args.run_dir, args.task_id)
    if not records:
        out.write(f"no records of task {args.task_id} in {args.run_dir}\n")
        return 1
    if args.json:
        for r in records:
            out.write(json.dumps(r.as_dict(), default=str) + "\n")
    else:
        write_timeline(records, out)
    return 0


def _latency(args: argparse.Namespace, out: TextIO) -> int:
    from parsl.logview.latency import compute, write_report

    groups = compute(args.run_dir)
    write_report(groups, out, args.min_tasks)
    return 0 if groups else 1


def _trace(args: argparse.Namespace, out: TextIO) -> int:
    from parsl.logview.trace import write_trace

    with open(args.output, "w", encoding="utf-8") as f:
        count = write_trace(args.run_dir, f)
    out.write(f"wrote {count} trace events to {args.output}; open it in "
              "https://ui.perfetto.dev or chrome://tracing\n")
    return 0


def _plot(args: argparse.Namespace, out: TextIO) -> int:
    from parsl.logview.plot import write_html

    with open(args.output, "w", encoding="utf-8") as f:
        write_html(args.run_dir, f, args.task)
    out.write(f"wrote {args.output}\n")
    return 0
