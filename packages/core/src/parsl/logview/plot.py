"""A self-contained HTML page: queue lengths over time and, optionally, one task's timeline.

Everything is inline SVG, with no script and nothing fetched from the network, so the
page opens in any browser, offline.
"""
from __future__ import annotations

import datetime
import html
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

from parsl.logview.records import LogFile, Record, find_log_files

_WIDTH = 900
_HEIGHT = 260
_MARGIN = 50
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def queue_series(files: Sequence[LogFile]) -> Dict[str, List[Tuple[float, float]]]:
    """``{series name: [(time, value), ...]}`` from the run's metric records."""
    series: Dict[str, List[Tuple[float, float]]] = {}
    for log in files:
        for r in log.records(('"metric": ', " metric=")):
            metric = r.context.get("metric")
            if metric is None:
                continue
            name = f"{r.context.get('executor', '')} {metric}".strip()
            if "manager_id" in r.context:
                name += f" {r.context['manager_id']}"
            try:
                value = float(r.context.get("value", 0))
            except (TypeError, ValueError):
                continue
            series.setdefault(name, []).append((r.time, value))
    for points in series.values():
        points.sort()
    return series


def _axis_label(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S")


def _queue_svg(series: Dict[str, List[Tuple[float, float]]]) -> str:
    if not series:
        return "<p>No metric records: log at level TASK_EVENTS to record queue lengths.</p>"
    t0 = min(p[0][0] for p in series.values())
    t1 = max(p[-1][0] for p in series.values())
    top = max(max(v for _, v in p) for p in series.values()) or 1.0
    span = (t1 - t0) or 1.0
    plot_w = _WIDTH - 2 * _MARGIN
    plot_h = _HEIGHT - 2 * _MARGIN

    def x(t: float) -> float:
        return _MARGIN + (t - t0) / span * plot_w

    def y(v: float) -> float:
        return _HEIGHT - _MARGIN - v / top * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" '
             f'height="{_HEIGHT + 20 * len(series)}" role="img">',
             f'<line x1="{_MARGIN}" y1="{y(0)}" x2="{_WIDTH - _MARGIN}" y2="{y(0)}" '
             'stroke="black"/>',
             f'<line x1="{_MARGIN}" y1="{y(0)}" x2="{_MARGIN}" y2="{y(top)}" stroke="black"/>',
             f'<text x="5" y="{y(top) + 4}" font-size="11">{top:g}</text>',
             f'<text x="5" y="{y(0) + 4}" font-size="11">0</text>',
             f'<text x="{_MARGIN}" y="{y(0) + 16}" font-size="11">{_axis_label(t0)}</text>',
             f'<text x="{_WIDTH - _MARGIN - 50}" y="{y(0) + 16}" font-size="11">'
             f'{_axis_label(t1)}</text>']
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = _COLOURS[i % len(_COLOURS)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{coords}"><title>{html.escape(name)}</title></polyline>')
        legend_y = _HEIGHT + 20 * i
        parts.append(f'<rect x="{_MARGIN}" y="{legend_y - 9}" width="12" height="10" '
                     f'fill="{colour}"/><text x="{_MARGIN + 18}" y="{legend_y}" '
                     f'font-size="12">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _task_svg(records: Sequence[Record]) -> str:
    if not records:
        return "<p>No records for this task.</p>"
    lanes: List[str] = []
    for r in records:
        if r.process not in lanes:
            lanes.append(r.process)
    t0 = records[0].time
    span = (records[-1].time - t0) or 1e-3
    label_w = 260
    plot_w = _WIDTH - label_w - 20
    lane_h = 28
    height = lane_h * len(lanes) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
             'role="img">']
    for i, lane in enumerate(lanes):
        ly = 20 + i * lane_h
        parts.append(f'<text x="5" y="{ly + 4}" font-size="11">{html.escape(lane)}</text>'
                     f'<line x1="{label_w}" y1="{ly}" x2="{_WIDTH - 20}" y2="{ly}" '
                     'stroke="#ddd"/>')
    previous: Optional[Tuple[float, float]] = None
    for r in records:
        px = label_w + (r.time - t0) / span * plot_w
        py = 20 + lanes.index(r.process) * lane_h
        if previous is not None:
            parts.append(f'<line x1="{previous[0]:.1f}" y1="{previous[1]}" x2="{px:.1f}" '
                         f'y2="{py}" stroke="#999" stroke-dasharray="3,2"/>')
        previous = (px, py)
        label = r.context.get("event") or r.message[:40]
        title = (f"+{(r.time - t0) * 1000:.3f} ms {r.process}: {r.message} "
                 f"(try {r.context.get('try_id', '?')})")
        parts.append(f'<circle cx="{px:.1f}" cy="{py}" r="4" fill="#1f77b4">'
                     f'<title>{html.escape(title)}</title></circle>')
        if r.context.get("event"):
            parts.append(f'<text x="{px + 3:.1f}" y="{py - 6}" font-size="9">'
                         f'{html.escape(str(label))}</text>')
    parts.append(f'<text x="{label_w}" y="{height - 5}" font-size="11">0 ms</text>'
                 f'<text x="{_WIDTH - 80}" y="{height - 5}" font-size="11">'
                 f'{span * 1000:.1f} ms</text></svg>')
    return "\n".join(parts)


def write_html(run_dir: str, out: TextIO, task_id: Optional[int] = None,
               files: Sequence[LogFile] = ()) -> None:
    """Write the page: queue lengths, then the task's timeline if ``task_id`` is given."""
    from parsl.logview.timeline import task_records

    files = files or find_log_files(run_dir)
    out.write("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
              f"<title>Parsl run {html.escape(run_dir)}</title></head><body "
              "style='font-family: sans-serif'>\n")
    out.write(f"<h1>Parsl run {html.escape(run_dir)}</h1>\n<h2>Queue lengths</h2>\n")
    out.write(_queue_svg(queue_series(files)))
    if task_id is not None:
        out.write(f"\n<h2>Task {task_id}</h2>\n")
        out.write(_task_svg(task_records(run_dir, task_id, files)))
    out.write("\n</body></html>\n")
