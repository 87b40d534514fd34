"""The parsl-visualize web application (Flask): read-only pages over a monitoring database.

Pages render a small HTML shell; the plots are drawn in the browser by plotly.js, which
this server serves itself from the plotly package (clusters are often offline, so no CDN).
A run that is still going is re-fetched as JSON every few seconds and the plots update in
place. The database is opened read-only (SQLite ``query_only``, PostgreSQL read-only
transactions), and every query uses bound parameters.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Dict, Optional, Tuple

from flask import Flask, Response, abort, jsonify, render_template, request, send_file
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine

from parsl_monitoring.visualize import queries
from parsl_monitoring.visualize.colors import STATE_COLORS

logger = logging.getLogger(__name__)

_REFRESH_SECONDS = 5
#: Finished runs whose page data is kept in memory (each is tens of kilobytes).
_CACHED_RUNS = 16


def plotly_js_path() -> str:
    """plotly.min.js as shipped inside the plotly wheel."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")  # locating it is enough; importing is slow
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plotly package is not installed; pip install plotly")
    path = os.path.join(os.path.dirname(spec.origin), "package_data", "plotly.min.js")
    if not os.path.exists(path):
        raise FileNotFoundError(f"plotly.min.js not found at {path}; reinstall plotly")
    return path


def read_only_engine(url: str) -> Engine:
    """An engine that cannot write, whatever a page asks for."""
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[1] if ":///" in url else ""
        if database and database != ":memory:" and not os.path.exists(database):
            raise FileNotFoundError(f"no monitoring database at {database!r} (from {url!r}); "
                                    "pass the logging_endpoint your runs used")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True,
                             connect_args={"options": "-c default_transaction_read_only=on"})
    return create_engine(url, pool_pre_ping=True)


def create_app(db_url: str) -> Flask:
    engine = read_only_engine(db_url)
    app = Flask(__name__)
    app.config["DB_URL"] = db_url
    js_path = plotly_js_path()

    @app.context_processor
    def page_globals() -> Dict[str, Any]:
        return {"state_colors": STATE_COLORS}

    def with_db(fn: Callable[[Connection], Any]) -> Any:
        with engine.connect() as conn:
            if not inspect(conn).has_table("workflow"):
                return None
            return fn(conn)

    #: Page data of finished runs, by run id and what would show a change.
    finished: Dict[Tuple[Any, ...], Dict[str, Any]] = {}

    def run_data(conn: Connection, run_id: str) -> Optional[Dict[str, Any]]:
        info = queries.run(conn, run_id)
        if info is None:
            return None
        key: Optional[Tuple[Any, ...]] = None
        if info.get("time_completed") is not None:
            # A finished run changes no more, except for its last rows landing right
            # after the end time: the status row count catches those.
            key = (run_id, info["time_completed"], info.get("messages_lost"),
                   queries.status_count(conn, run_id))
            cached = finished.get(key)
            if cached is not None:
                return cached
        apps = queries.apps_by_state(conn, run_id)
        data = {"run": info, "counts": queries.state_counts_of(apps), "apps": apps,
                "over_time": queries.states_over_time(conn, run_id),
                "stream": queries.task_stream(conn, run_id),
                "failures": queries.failures(conn, run_id),
                "resources": queries.resources_by_app(conn, run_id),
                "infrastructure": queries.blocks_and_nodes(conn, run_id),
                "live": info.get("time_completed") is None,
                "refresh_seconds": _REFRESH_SECONDS}
        if key is not None:
            if len(finished) >= _CACHED_RUNS:
                finished.pop(next(iter(finished)))
            finished[key] = data
        return data

    @app.route("/")
    def index() -> str:
        runs = with_db(queries.runs) or []
        return render_template("index.html", runs=runs, db_url=_safe_url(db_url))

    @app.route("/workflow/<run_id>/")
    def workflow_page(run_id: str) -> str:
        data = with_db(lambda conn: run_data(conn, run_id))
        if data is None:
            abort(404, f"no run {run_id!r} in this database")
        return render_template("workflow.html", data=data, run=data["run"])

    @app.route("/workflow/<run_id>/data.json")
    def workflow_json(run_id: str) -> Response:
        data = with_db(lambda conn: run_data(conn, run_id))
        if data is None:
            abort(404, f"no run {run_id!r} in this database")
        return jsonify(data)

    @app.route("/workflow/<run_id>/task/<int:task_id>")
    def task_page(run_id: str, task_id: int) -> str:
        detail = with_db(lambda conn: queries.task_detail(conn, run_id, task_id))
        if detail is None:
            abort(404, f"no task {task_id} in run {run_id!r}")
        return render_template("task.html", run_id=run_id, detail=detail)

    @app.route("/workflow/<run_id>/dag")
    def dag_page(run_id: str) -> str:
        graph = with_db(lambda conn: queries.dependency_graph(conn, run_id)
                        if queries.run(conn, run_id) else None)
        if graph is None:
            abort(404, f"no run {run_id!r} in this database")
        return render_template("dag.html", run_id=run_id, graph=graph)

    @app.route("/compare")
    def compare_page() -> str:
        a, b = request.args.get("a", ""), request.args.get("b", "")
        both = with_db(lambda conn: [run_data(conn, a), run_data(conn, b)])
        if not both or both[0] is None or both[1] is None:
            abort(404, "pick two runs of this database to compare")
        return render_template("compare.html", left=both[0], right=both[1])

    @app.route("/assets/plotly.min.js")
    def plotly_js() -> Response:
        return send_file(js_path, mimetype="application/javascript", max_age=86400)

    return app


def _safe_url(url: str) -> str:
    """The URL without its password, for display."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # display only: never fail a page over it
        return "(database)"
