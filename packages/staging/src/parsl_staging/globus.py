"""Globus staging: ``File("globus://<endpoint uuid>/path/data.h5")``.

:class:`GlobusStaging` has Parsl's parameters and meaning: files are transferred by the
Globus Transfer service between their endpoint and the executor's endpoint
(``endpoint_uuid``), whose path for the executor's ``working_dir`` is found from
``endpoint_path`` and ``local_path``. Transfers run as staging tasks in the submit
process (Parsl's ``_parsl_internal`` executor), which holds the Globus credentials.

Works with globus-sdk 4 (current) and 3 (>= 3.30): only keyword arguments and calls that
both versions share are used (``TransferData(source_endpoint=..., destination_endpoint=...)``,
``task_wait(..., timeout=, polling_interval=)``). ``globus_sdk`` is imported only when a
transfer or a login runs.

Credentials, first match wins:

1. a client id and secret (``client_id``/``client_secret``, or the environment variables
   ``PARSL_GLOBUS_CLIENT_ID``/``PARSL_GLOBUS_CLIENT_SECRET``): unattended runs;
2. tokens stored by an interactive login, run once with the ``parsl-globus-auth``
   command, in ``~/.parsl/.globus.json`` (mode 0600; refreshed tokens are written back).

A worker thread never prompts: without either, a transfer fails with
:class:`parsl_staging.GlobusAuthorizationRequired` saying which command to run.
Every transfer asks Globus to verify checksums and carries a deadline; a failed transfer
raises with Globus's own error text.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import tempfile
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Dict, Optional

from parsl.data_provider.files import File
from parsl.data_provider.staging import Staging
from parsl_staging import tasks
from parsl_staging.errors import GlobusAuthorizationRequired, StagingError

if TYPE_CHECKING:
    from parsl.app.futures import DataFuture
    from parsl.data_provider.data_manager import DataManager

logger = logging.getLogger(__name__)

#: Parsl's native-app client registered with Globus Auth (the same one Parsl uses, so
#: existing consents keep working).
CLIENT_ID = "8b8060fd-610e-4a74-885e-1051c71ad473"
REDIRECT_URI = "https://auth.globus.org/v2/web/auth-code"
TRANSFER_SCOPE = "urn:globus:auth:scope:transfer.api.globus.org:all"
SCOPES = f"openid {TRANSFER_SCOPE}"
TRANSFER_RESOURCE_SERVER = "transfer.api.globus.org"

_INTERNAL_EXECUTOR = "_parsl_internal"


def default_token_file() -> str:
    return os.path.join(os.path.expanduser("~"), ".parsl", ".globus.json")


def save_tokens(path: str, tokens: Dict[str, Any]) -> None:
    """Write ``tokens`` to ``path`` atomically, readable only by the user (0600)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".globus.", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(tokens, handle)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_tokens(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path) as handle:
            tokens = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise GlobusAuthorizationRequired(
            "globus://", f"the Globus token file {path} cannot be read ({e}); run "
            "parsl-globus-auth to log in again") from e
    if not isinstance(tokens, dict) or TRANSFER_RESOURCE_SERVER not in tokens:
        raise GlobusAuthorizationRequired(
            "globus://", f"the Globus token file {path} holds no transfer tokens; run "
            "parsl-globus-auth to log in again")
    return tokens


class GlobusAuth:
    """Makes the authorizer for Globus Transfer from the configured credentials."""

    def __init__(self, token_file: str, client_id: Optional[str],
                 client_secret: Optional[str]) -> None:
        self.token_file = token_file
        self.client_id = client_id
        self.client_secret = client_secret
        self._authorizer: Any = None
        self._lock = threading.Lock()

    def authorizer(self) -> Any:
        with self._lock:
            if self._authorizer is None:
                self._authorizer = self._make_authorizer()
            return self._authorizer

    def _make_authorizer(self) -> Any:
        import globus_sdk

        if self.client_id and self.client_secret:
            client = globus_sdk.ConfidentialAppAuthClient(self.client_id, self.client_secret)
            return globus_sdk.ClientCredentialsAuthorizer(client, TRANSFER_SCOPE)
        tokens = load_tokens(self.token_file)
        if tokens is None:
            raise GlobusAuthorizationRequired(
                "globus://", f"no Globus tokens in {self.token_file} and no client "
                "credentials: run parsl-globus-auth once in a terminal to log in, or set "
                "PARSL_GLOBUS_CLIENT_ID and PARSL_GLOBUS_CLIENT_SECRET for unattended runs")
        transfer = tokens[TRANSFER_RESOURCE_SERVER]
        native = globus_sdk.NativeAppAuthClient(CLIENT_ID)

        def on_refresh(response: Any) -> None:
            stored = load_tokens(self.token_file) or {}
            stored.update(response.by_resource_server)
            save_tokens(self.token_file, stored)
            logger.debug("refreshed Globus tokens saved to %s", self.token_file)

        return globus_sdk.RefreshTokenAuthorizer(
            transfer["refresh_token"], native, access_token=transfer.get("access_token"),
            expires_at=transfer.get("expires_at_seconds"), on_refresh=on_refresh)

    def transfer(self, source_endpoint: str, source_path: str, destination_endpoint: str,
                 destination_path: str, url: str, direction: str, deadline_seconds: float,
                 poll_interval: int) -> None:
        """Run one Globus transfer to completion; raise StagingError when it fails."""
        import globus_sdk

        client = globus_sdk.TransferClient(authorizer=self.authorizer())
        deadline = (datetime.datetime.now(datetime.timezone.utc)
                    + datetime.timedelta(seconds=deadline_seconds))
        try:
            submission_id = client.get_submission_id()["value"]
            data = globus_sdk.TransferData(
                source_endpoint=source_endpoint, destination_endpoint=destination_endpoint,
                submission_id=submission_id, label="parsl staging", verify_checksum=True,
                deadline=deadline.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
            data.add_item(source_path, destination_path)
            task_id = client.submit_transfer(data)["task_id"]
        except globus_sdk.GlobusAPIError as e:
            raise StagingError(url, f"Globus refused the transfer from {source_endpoint}:"
                               f"{source_path} to {destination_endpoint}:{destination_path}: "
                               f"{e.http_status} {e.code}: {e.message}", direction) from e
        logger.debug("Globus transfer %s submitted: %s:%s -> %s:%s", task_id,
                     source_endpoint, source_path, destination_endpoint, destination_path)
        seen_events: set[str] = set()
        limit = time.monotonic() + deadline_seconds + 300
        while not client.task_wait(task_id, timeout=poll_interval,
                                   polling_interval=min(poll_interval, 10)):
            for event in client.task_event_list(task_id, limit=10):
                key = f"{event['time']} {event['code']}"
                if event.get("is_error") and key not in seen_events:
                    seen_events.add(key)
                    logger.warning("Globus transfer %s of %s: %s (%s); Globus retries",
                                   task_id, url, event["description"], event.get("details"))
            if time.monotonic() > limit:
                client.cancel_task(task_id)
                raise StagingError(url, f"Globus transfer {task_id} still active after its "
                                   f"deadline of {deadline_seconds} s; cancelled", direction)
        task = client.get_task(task_id)
        if task["status"] != "SUCCEEDED":
            raise StagingError(url, f"Globus transfer {task_id} {task['status']}: "
                               f"{_failure_text(client, task)}", direction)
        logger.debug("Globus transfer %s of %s succeeded", task_id, url)


def _failure_text(client: Any, task: Any) -> str:
    texts = [str(event.get("details") or event.get("description"))
             for event in client.task_event_list(task["task_id"], limit=10)
             if event.get("is_error")]
    if texts:
        return texts[0]
    return str(task.get("nice_status_short_description") or task.get("nice_status")
               or "no error text from Globus")


class GlobusTransport:
    """Picklable handle used by the staging tasks; they run in the submit process."""

    def __init__(self, provider: GlobusStaging, executor_working_dir: str) -> None:
        self.provider = provider
        self.working_dir = executor_working_dir

    def download(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        endpoint_path = self.provider._endpoint_path(self.working_dir)
        self.provider.auth().transfer(
            file.netloc, file.path, self.provider.endpoint_uuid,
            os.path.join(endpoint_path, file.filename), file.url, "in",
            self.provider.transfer_timeout, self.provider.poll_interval)
        return 0

    def upload(self, file: File, local_path: str, task_id: Optional[int]) -> int:
        endpoint_path = self.provider._endpoint_path(self.working_dir)
        self.provider.auth().transfer(
            self.provider.endpoint_uuid, os.path.join(endpoint_path, file.filename),
            file.netloc, file.path, file.url, "out", self.provider.transfer_timeout,
            self.provider.poll_interval)
        return 0


class GlobusStaging(Staging):
    """Stages ``globus://`` Files in and out with Globus Transfer.

    Parameters (Parsl's)
    --------------------
    endpoint_uuid : str
        UUID of the Globus endpoint (collection) that sees the executor's working_dir.
    endpoint_path : str, optional
        The path on that endpoint of ``local_path``.
    local_path : str, optional
        A local folder containing the working_dir; with ``endpoint_path`` it maps the
        working_dir to its endpoint path. Without both, the working_dir's own path is used.

    Beyond Parsl (keyword-only): ``token_file`` (default ``~/.parsl/.globus.json``),
    ``client_id``/``client_secret`` for unattended runs, ``transfer_timeout`` (the Globus
    deadline of each transfer, seconds, default one day) and ``poll_interval`` (seconds).
    Requires globus-sdk 3 (>= 3.30) or 4.
    """

    def __init__(self, endpoint_uuid: str, endpoint_path: Optional[str] = None,
                 local_path: Optional[str] = None, *, token_file: Optional[str] = None,
                 client_id: Optional[str] = None, client_secret: Optional[str] = None,
                 transfer_timeout: float = 86400.0, poll_interval: int = 15) -> None:
        if not isinstance(endpoint_uuid, str) or not endpoint_uuid:
            raise TypeError(f"GlobusStaging: endpoint_uuid must be a non-empty str, "
                            f"got {endpoint_uuid!r}")
        for name, value in (("endpoint_path", endpoint_path), ("local_path", local_path),
                            ("token_file", token_file), ("client_id", client_id),
                            ("client_secret", client_secret)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"GlobusStaging: {name} must be a str or None, got {value!r}")
        if not isinstance(poll_interval, int) or poll_interval < 1:
            raise ValueError(f"GlobusStaging: poll_interval must be an int >= 1 second, "
                             f"got {poll_interval!r}")
        self.endpoint_uuid = endpoint_uuid
        self.endpoint_path = endpoint_path
        self.local_path = local_path
        self.token_file = token_file or default_token_file()
        self.client_id = client_id or os.environ.get("PARSL_GLOBUS_CLIENT_ID")
        self.client_secret = client_secret or os.environ.get("PARSL_GLOBUS_CLIENT_SECRET")
        self.transfer_timeout = float(transfer_timeout)
        self.poll_interval = poll_interval
        self._auth: Optional[GlobusAuth] = None

    def __repr__(self) -> str:
        return (f"GlobusStaging({self.endpoint_uuid!r}, endpoint_path={self.endpoint_path!r}, "
                f"local_path={self.local_path!r})")

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_auth"] = None
        return state

    def auth(self) -> GlobusAuth:
        if self._auth is None:
            self._auth = GlobusAuth(self.token_file, self.client_id, self.client_secret)
        return self._auth

    def can_stage_in(self, file: File) -> bool:
        return file.scheme == "globus"

    def can_stage_out(self, file: File) -> bool:
        return file.scheme == "globus"

    def _working_dir(self, dm: DataManager, executor: str) -> str:
        working_dir = getattr(dm.dfk.executors[executor], "working_dir", None)
        if not working_dir:
            raise ValueError(f"GlobusStaging: executor {executor!r} needs a working_dir "
                             "(the folder its endpoint sees) to stage globus:// files")
        return os.path.normpath(str(working_dir))

    def _endpoint_path(self, working_dir: str) -> str:
        if self.endpoint_path and self.local_path:
            local = os.path.normpath(self.local_path)
            if os.path.commonpath((local, working_dir)) != local:
                raise ValueError(f"GlobusStaging: local_path {self.local_path!r} must be "
                                 f"the working_dir {working_dir!r} or a folder above it")
            relative = os.path.relpath(working_dir, local)
            return os.path.normpath(os.path.join(self.endpoint_path, relative))
        return working_dir

    def stage_in(self, dm: DataManager, executor: str, file: File,
                 parent_fut: Optional[Future[Any]]) -> Optional[DataFuture]:
        working_dir = self._working_dir(dm, executor)
        file.local_path = os.path.join(working_dir, file.filename)
        return tasks.separate_stage_in(dm, _INTERNAL_EXECUTOR, file, parent_fut,
                                       GlobusTransport(self, working_dir))

    def stage_out(self, dm: DataManager, executor: str, file: File,
                  app_fu: Future[Any]) -> Optional[Future[Any]]:
        working_dir = self._working_dir(dm, executor)
        file.local_path = os.path.join(working_dir, file.filename)
        return tasks.separate_stage_out(dm, _INTERNAL_EXECUTOR, file, app_fu,
                                        GlobusTransport(self, working_dir))


def login(token_file: Optional[str] = None) -> str:
    """Interactive Globus login (native app flow) in a terminal; stores the tokens.

    Returns the token file path. Called by ``parsl-globus-auth``; never by staging.
    """
    import globus_sdk

    path = token_file or default_token_file()
    client = globus_sdk.NativeAppAuthClient(CLIENT_ID)
    client.oauth2_start_flow(requested_scopes=SCOPES, redirect_uri=REDIRECT_URI,
                             refresh_tokens=True)
    print("Please visit the following URL to authorize Parsl to use Globus Transfer:\n"
          f"{client.oauth2_get_authorize_url()}")
    code = input("Enter the authorization code: ").strip()
    tokens = client.oauth2_exchange_code_for_tokens(code).by_resource_server
    save_tokens(path, tokens)
    return path


def cli_run() -> None:
    """``parsl-globus-auth``: log in to Globus once, unless valid tokens are stored."""
    path = default_token_file()
    if os.path.exists(path):
        load_tokens(path)
        print(f"Globus tokens are already stored in {path}; delete it to log in again")
        return
    print(f"Globus tokens stored in {login(path)} (mode 0600)")
