"""GlobusStaging through globus-sdk's own testing fixtures.

The Globus Auth and Transfer services cannot be reached from here, so these tests use the
most faithful stand-in: ``globus_sdk.testing`` registered responses (the canned service
answers globus-sdk's own test suite uses, served through ``responses``), while the real
globus-sdk client code builds and sends every request. Runs against the installed
globus-sdk: 4.x in CI; the same tests pass with 3.66 (``globus_sdk._testing``).
"""
from __future__ import annotations

import json
import os
import stat
import time
from typing import Any, Dict, Iterator

import pytest
import responses

from parsl import File, python_app
from parsl.dataflow.errors import DependencyError
from parsl_staging import GlobusAuthorizationRequired, GlobusStaging

try:
    from globus_sdk import testing
except ImportError:  # globus-sdk 3 names its testing fixtures globus_sdk._testing
    from globus_sdk import _testing as testing  # type: ignore[no-redef]

SOURCE_ENDPOINT = "aaaaaaaa-1111-2222-3333-444444444444"
EXECUTOR_ENDPOINT = "bbbbbbbb-1111-2222-3333-444444444444"


@python_app
def where_staged(f: Any) -> str:
    return str(f.filepath)


@python_app
def produce(outputs: Any = ()) -> None:
    with open(outputs[0].filepath, "w") as handle:
        handle.write("result")


@pytest.fixture(autouse=True)
def mocked_globus() -> Iterator[None]:
    responses.start()
    yield
    responses.stop()
    responses.reset()


def register_transfer(status: str = "SUCCEEDED", events: Any = ()) -> str:
    """Canned answers for one transfer ending in ``status``; returns its task id."""
    testing.load_response("transfer.get_submission_id")
    submitted = testing.load_response("transfer.submit_transfer")
    task_id = submitted.metadata["task_id"]
    testing.RegisteredResponse(
        service="transfer", path=f"/v0.10/task/{task_id}",
        json={"DATA_TYPE": "task", "task_id": task_id, "status": status,
              "nice_status": None if status == "SUCCEEDED" else "FILE_NOT_FOUND"}).add()
    testing.RegisteredResponse(
        service="transfer", path=f"/v0.10/task/{task_id}/event_list",
        json={"DATA_TYPE": "event_list", "DATA": list(events), "limit": 10, "offset": 0,
              "total": len(events)}).add()
    return str(task_id)


def submitted_transfer() -> Dict[str, Any]:
    bodies = [json.loads(call.request.body) for call in responses.calls
              if call.request.method == "POST" and call.request.url.endswith("/transfer")]
    assert len(bodies) == 1
    return bodies[0]  # type: ignore[no-any-return]


def write_tokens(path: Any, expires_at: int) -> None:
    path.write_text(json.dumps({"transfer.api.globus.org": {
        "access_token": "stored-access", "refresh_token": "stored-refresh",
        "expires_at_seconds": expires_at, "resource_server": "transfer.api.globus.org"}}))


def staging(tmp_path: Any, **kwargs: Any) -> GlobusStaging:
    kwargs.setdefault("client_id", "client-id")
    kwargs.setdefault("client_secret", "client-secret")
    return GlobusStaging(EXECUTOR_ENDPOINT, endpoint_path="/~/work",
                         local_path=str(tmp_path), token_file=str(tmp_path / "tokens.json"),
                         poll_interval=1, **kwargs)


def test_stage_in_submits_a_checksum_verified_transfer_to_the_executor_endpoint(
        load: Any, tmp_path: Any) -> None:
    testing.load_response("auth.oauth2_client_credentials_tokens")
    register_transfer()
    load(storage_access=[staging(tmp_path)], working_dir=str(tmp_path / "run"))
    staged = where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/in.h5")).result(timeout=60)
    assert staged == str(tmp_path / "run" / "in.h5")
    body = submitted_transfer()
    assert body["source_endpoint"] == SOURCE_ENDPOINT
    assert body["destination_endpoint"] == EXECUTOR_ENDPOINT
    assert body["verify_checksum"] is True
    assert body["deadline"]
    item = body["DATA"][0]
    assert (item["source_path"], item["destination_path"]) == ("/data/in.h5",
                                                               "/~/work/run/in.h5")


def test_stage_out_transfers_from_the_executor_endpoint(load: Any, tmp_path: Any) -> None:
    testing.load_response("auth.oauth2_client_credentials_tokens")
    register_transfer()
    load(storage_access=[staging(tmp_path)], working_dir=str(tmp_path / "run"))
    os.makedirs(tmp_path / "run")
    future = produce(outputs=[File(f"globus://{SOURCE_ENDPOINT}/results/out.txt")])
    future.outputs[0].result(timeout=60)
    item = submitted_transfer()["DATA"][0]
    assert (item["source_path"], item["destination_path"]) == ("/~/work/run/out.txt",
                                                               "/results/out.txt")


def test_failed_transfer_raises_with_globus_error_text(load: Any, tmp_path: Any) -> None:
    testing.load_response("auth.oauth2_client_credentials_tokens")
    register_transfer("FAILED", events=[{
        "DATA_TYPE": "event", "code": "FILE_NOT_FOUND", "is_error": True,
        "description": "file not found", "time": "2026-11-28 10:00:00+00:00",
        "details": "No such file or directory: /data/missing.h5"}])
    load(storage_access=[staging(tmp_path)], working_dir=str(tmp_path / "run"))
    future = where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/missing.h5"))
    with pytest.raises(DependencyError, match=r"No such file or directory: /data/missing\.h5"):
        future.result(timeout=60)


def test_refused_submission_raises_with_globus_error_text(load: Any, tmp_path: Any) -> None:
    testing.load_response("auth.oauth2_client_credentials_tokens")
    testing.load_response("transfer.get_submission_id")
    testing.load_response("transfer.submit_transfer", case="failure")
    load(storage_access=[staging(tmp_path)], working_dir=str(tmp_path / "run"))
    future = where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/in.h5"))
    with pytest.raises(DependencyError, match="A transfer requires at least one item"):
        future.result(timeout=60)


def test_without_credentials_the_error_names_the_login_command_instead_of_prompting(
        load: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prompt(*args: Any) -> str:
        raise AssertionError("GlobusStaging prompted for input")

    monkeypatch.setattr("builtins.input", no_prompt)
    load(storage_access=[staging(tmp_path, client_id=None, client_secret=None)],
         working_dir=str(tmp_path / "run"))
    future = where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/in.h5"))
    with pytest.raises(DependencyError, match="run parsl-globus-auth") as failure:
        future.result(timeout=60)
    assert isinstance(failure.value.__cause__, GlobusAuthorizationRequired)


def test_stored_tokens_are_refreshed_and_written_back_with_mode_0600(
        load: Any, tmp_path: Any) -> None:
    tokens = tmp_path / "tokens.json"
    write_tokens(tokens, expires_at=int(time.time()) - 60)
    testing.RegisteredResponse(service="auth", path="/v2/oauth2/token", method="POST", json={
        "access_token": "refreshed-access", "refresh_token": "stored-refresh",
        "expires_in": 172800, "token_type": "Bearer", "scope": "transfer",
        "resource_server": "transfer.api.globus.org", "other_tokens": []}).add()
    register_transfer()
    load(storage_access=[staging(tmp_path, client_id=None, client_secret=None)],
         working_dir=str(tmp_path / "run"))
    where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/in.h5")).result(timeout=60)
    stored = json.loads(tokens.read_text())
    assert stored["transfer.api.globus.org"]["access_token"] == "refreshed-access"
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    transfer_calls = [c for c in responses.calls if "/v0.10/transfer" in c.request.url]
    assert transfer_calls[0].request.headers["Authorization"] == "Bearer refreshed-access"


def test_globus_staging_needs_a_working_dir(load: Any, tmp_path: Any) -> None:
    load(storage_access=[staging(tmp_path)])
    with pytest.raises(ValueError, match="needs a working_dir"):
        where_staged(File(f"globus://{SOURCE_ENDPOINT}/data/in.h5"))



def test_parsl_globus_auth_logs_in_once_and_stores_tokens_with_mode_0600(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    from parsl_staging.globus import cli_run

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("builtins.input", lambda prompt: "the-auth-code")
    testing.RegisteredResponse(service="auth", path="/v2/oauth2/token", method="POST", json={
        "access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 172800,
        "token_type": "Bearer", "scope": "transfer",
        "resource_server": "transfer.api.globus.org", "other_tokens": []}).add()
    cli_run()
    tokens = tmp_path / ".parsl" / ".globus.json"
    assert json.loads(tokens.read_text())["transfer.api.globus.org"]["refresh_token"] == \
        "new-refresh"
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    assert "code=the-auth-code" in responses.calls[-1].request.body
    assert "https://auth.globus.org/v2/oauth2/authorize" in capsys.readouterr().out

    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("prompted twice"))
    cli_run()
    assert "already stored" in capsys.readouterr().out
