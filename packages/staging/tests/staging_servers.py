"""Real servers on loopback for the staging tests: HTTP(S) and FTP.

The HTTP server is the standard library's ``ThreadingHTTPServer`` with a handler whose
answers a test scripts per path (status sequence, truncated body, delay, validators); it
answers conditional GETs (If-None-Match, If-Modified-Since) and counts full-body answers
apart from 304s, which the node cache tests need. HTTPS wraps the
same server's socket with a certificate from a throwaway CA (trustme). The FTP server is
pyftpdlib with an anonymous read-only user, a read-only user with a password and a user
who may upload.
"""
from __future__ import annotations

import hashlib
import http.server
import os
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, Dict, List, Optional

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: Lets HTEX workers import staging_test_apps by name.
WORKER_INIT = f"export PYTHONPATH={TESTS_DIR}:${{PYTHONPATH:-}}"


@dataclass
class Answer:
    """One scripted HTTP answer: ``status``, ``body``; ``declared_length`` overrides the
    Content-Length header (to send a truncated body); ``delay`` before answering.

    ``etag`` and ``last_modified`` (an HTTP date) are sent as validators when set; a
    conditional GET whose If-None-Match is ``etag`` (or, without If-None-Match, whose
    If-Modified-Since is not before ``last_modified``) gets 304 Not Modified.
    """

    status: int = 200
    body: bytes = b""
    declared_length: Optional[int] = None
    delay: float = 0.0
    etag: Optional[str] = None
    last_modified: Optional[str] = None

    def not_modified_for(self, headers: Any) -> bool:
        if_none_match = headers.get("If-None-Match")
        if if_none_match is not None:
            return self.etag is not None and if_none_match == self.etag
        since = headers.get("If-Modified-Since")
        if since is None or self.last_modified is None:
            return False
        return bool(parsedate_to_datetime(self.last_modified)
                    <= parsedate_to_datetime(since))


def versioned(body: bytes, etag: bool = True, last_modified: bool = True) -> Answer:
    """A 200 answer with validators derived from ``body``: an ETag of its digest and a
    Last-Modified date that differs for different bodies."""
    digest = hashlib.sha256(body).hexdigest()
    stamp = 1_700_000_000 + int(digest[:6], 16)
    return Answer(body=body, etag=f'"{digest[:16]}"' if etag else None,
                  last_modified=formatdate(stamp, usegmt=True) if last_modified else None)


@dataclass
class Route:
    answers: List[Answer]
    hits: int = 0
    full: int = 0
    not_modified: int = 0

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
        """Requests of ``path`` so far, whatever the answer."""
        with self.lock:
            return self.routes[path].hits

    def full(self, path: str) -> int:
        """Answers to ``path`` with status 200 and the whole body."""
        with self.lock:
            return self.routes[path].full

    def not_modified(self, path: str) -> int:
        """304 Not Modified answers to ``path``."""
        with self.lock:
            return self.routes[path].not_modified


def _handler(server: HTTPServer) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            with server.lock:
                route = server.routes.get(self.path)
                answer = route.next_answer() if route else Answer(404, b"no such route")
                unchanged = answer.status == 200 and answer.not_modified_for(self.headers)
                if route and unchanged:
                    route.not_modified += 1
                elif route and answer.status == 200:
                    route.full += 1
            if answer.delay:
                time.sleep(answer.delay)
            self.send_response(304 if unchanged else answer.status)
            if answer.etag is not None:
                self.send_header("ETag", answer.etag)
            if answer.last_modified is not None:
                self.send_header("Last-Modified", answer.last_modified)
            body = b"" if unchanged else answer.body
            length = answer.declared_length
            if not unchanged:
                self.send_header("Content-Length", str(len(body) if length is None
                                                       else length))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
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
    the next ``n`` downloads of a file called ``name`` get the temporary reply 450;
    ``retrievals[name]`` counts the downloads (RETR) of a file called ``name`` served.
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
        self.retrievals: Dict[str, int] = {}
        retrievals = self.retrievals

        def ftp_RETR(handler: Any, file: str) -> Any:
            name = os.path.basename(file)
            if busy.get(name, 0) > 0:
                busy[name] -= 1
                handler.respond("450 File busy, try again later.")
                return None
            retrievals[name] = retrievals.get(name, 0) + 1
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
