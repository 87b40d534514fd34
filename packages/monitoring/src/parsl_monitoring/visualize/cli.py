"""``parsl-visualize [DB_URL] [--port N] [--listen ADDR]``: serve the monitoring web view."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional


def default_url() -> str:
    """Parsl's default database: ``runinfo/monitoring.db`` under the current directory."""
    return "sqlite:///" + os.path.abspath(os.path.join("runinfo", "monitoring.db"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="parsl-visualize",
        description="Read-only web view of a Parsl monitoring database")
    parser.add_argument("db_url", nargs="?", default=None,
                        help="SQLAlchemy URL of the database (default: sqlite:///"
                             "./runinfo/monitoring.db)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    parser.add_argument("--listen", default="127.0.0.1",
                        help="address to listen on (127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--debug", action="store_true", help="Flask debug mode")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be within 1..65535, got {args.port}")
    url = args.db_url or default_url()
    from parsl_monitoring.visualize.app import create_app

    try:
        app = create_app(url)
    except (FileNotFoundError, ValueError) as e:
        print(f"parsl-visualize: {e}", file=sys.stderr)
        return 2
    print(f"parsl-visualize: serving {url} on http://{args.listen}:{args.port}/", flush=True)
    app.run(host=args.listen, port=args.port, debug=args.debug, threaded=True,
            use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
