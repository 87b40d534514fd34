"""Real servers on loopback for the staging tests: HTTP(S) and FTP.

The HTTP server is the standard library's ``ThreadingHTTPServer`` with a handler whose
answers a test scripts per path (status sequence, truncated body, delay); HTTPS wraps the
same server's socket with a certificate from a throwaway CA (trustme). The FTP server is
pyftpdlib with an anonymous read-only user, a read-only user with a password and a user
who may upload.
"""
from __future__ import annotations

import http.server
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: Lets HTEX workers import staging_test_apps by name.
WORKER_INIT = f"export PYTHONPATH={TESTS_DIR}:${{PYTHONPATH:-}}"


@dataclass
class Answer:
    """One scripted HTTP answer: ``status``, ``body``; ``declared_length`` overrides the
    Content-Length header (to send a truncated body); ``delay`` before answering."""

    status: int = 200
    body: bytes = b""
    declared_length: Optional[int] = None
    delay: float = 0.0


@dataclass
class Route:
    answers: List[Answer]
    hits: int = 0

    def next_answer(self) -> Answer:
        answer = self.answers[min(self.hits, len(self.answers) - 1)]
        self.hits += 1
        return answer


@dataclass
class HTTPServer:
    base_url: str
    routes: Dict[str, Route] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, path: str, *answers: Answer) -> str:
        """Answer GET ``path`` with ``answers`` in turn (the last one repeats)."""
        with self.lock:
            self.routes[path] = Route(list(answers))
        return self.base_url + path

    def hits(self, path: str) -> int:
        with self.lock:
            return self.routes[path].hits


def _handler(server: HTTPServer) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with server.lock:
                route = server.routes.get(self.path)
                answer = route.next_answer() if route else Answer(404, b"no such route")
            if answer.delay:
                time.sleep(answer.delay)
            self.send_response(answer.status)
            length = answer.declared_length
            self.send_header("Content-Length", str(len(answer.body) if length is None
                                                   else length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class RunningHTTP:
    """A started HTTP(S) server; ``stop()`` shuts it down and joins its thread."""

    def __init__(self, tls: Optional[ssl.SSLContext]) -> None:
        self.server = HTTPServer("")
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _handler(self.server))
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        host = "localhost" if tls is not None else "127.0.0.1"
        self.server.base_url = f"{scheme}://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class RunningFTP:
    """pyftpdlib on a free loopback port, serving ``root``.

    Users: anonymous (read-only), ``reader``/``reader-pw`` (read-only) and
    ``writer``/``writer-pw`` (may upload, rename and delete). ``busy_once[name] = n`` makes
    the next ``n`` downloads of a file called ``name`` get the temporary reply 450.
    """

    def __init__(self, root: str) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(root)
        authorizer.add_user("reader", "reader-pw", root, perm="elr")
        authorizer.add_user("writer", "writer-pw", root, perm="elradfmw")
        self.busy_once: Dict[str, int] = {}
        busy = self.busy_once

        def ftp_RETR(handler: Any, file: str) -> Any:
            name = os.path.basename(file)
            if busy.get(name, 0) > 0:
                busy[name] -= 1
                handler.respond("450 File busy, try again later.")
                return None
            return FTPHandler.ftp_RETR(handler, file)

        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "timeout": 30,
                                                  "banner": "test ftp", "ftp_RETR": ftp_RETR})
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.root = root
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self.server.close_all()

    def url(self, path: str, user: str = "") -> str:
        credentials = f"{user}@" if user else ""
        return f"ftp://{credentials}127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)
