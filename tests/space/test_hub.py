"""`seefood space push` / `serve` without a network: a fake HfApi records calls or raises like the real one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import httpx2
import huggingface_hub
import pytest
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError
from typer.testing import CliRunner

from seefood.cli.main import app
from seefood.errors import ConfigError, DataError
from seefood.space.hub import PushConfig, ServeConfig, push_space, serve_space


class FakeApi:
    """Stands in for huggingface_hub.HfApi: records calls, or raises `error` from create_repo."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    error: ClassVar[Exception | None] = None

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        FakeApi.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        if FakeApi.error is not None:
            raise FakeApi.error
        return f"https://huggingface.co/spaces/{repo_id}"

    def upload_folder(self, **kwargs: Any) -> object:
        FakeApi.calls.append(("upload_folder", kwargs))
        return type("Commit", (), {"commit_url": "https://huggingface.co/commit/1"})()


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> type[FakeApi]:
    FakeApi.calls, FakeApi.error = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_a_saved_token")
    return FakeApi


def _http_error(status: int) -> HfHubHTTPError:
    request = httpx2.Request("POST", "https://huggingface.co/api/repos/create")
    return HfHubHTTPError(f"{status} error", response=httpx2.Response(status, request=request))


def test_push_creates_a_gradio_space_and_uploads(fake_hub: type[FakeApi], built_space: Path) -> None:
    url = push_space(PushConfig(space=built_space, repo="alice/seefood-demo", private=True))
    assert url == "https://huggingface.co/spaces/alice/seefood-demo"
    (create, created), (upload, uploaded) = fake_hub.calls
    assert create == "create_repo" and created == {"repo_id": "alice/seefood-demo", "repo_type": "space",
                                                   "space_sdk": "gradio", "private": True, "exist_ok": True}
    assert upload == "upload_folder" and uploaded["folder_path"] == built_space
    assert uploaded["repo_type"] == "space" and "logs/*" in uploaded["ignore_patterns"]


@pytest.mark.parametrize(("error", "message"), [
    (_http_error(401), "hf auth login"),
    (_http_error(403), "write access"),
    (LocalTokenNotFoundError("no token"), "no Hugging Face token was found"),
    (httpx2.ConnectError("name resolution failed"), "could not reach the Hugging Face Hub"),
])
def test_push_failures_exit_1_and_never_claim_success(fake_hub: type[FakeApi], built_space: Path,
                                                      error: Exception, message: str) -> None:
    fake_hub.error = error
    result = CliRunner().invoke(app, ["space", "push", str(built_space), "--repo", "alice/demo"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and message in flat
    assert "pushed" not in flat and [c for c, _ in fake_hub.calls] == ["create_repo"]


def test_push_without_any_token_says_so_and_how_to_set_one(fake_hub: type[FakeApi], built_space: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # no HF_TOKEN, no `hf auth login`
    result = CliRunner().invoke(app, ["space", "push", str(built_space), "--repo", "alice/demo"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "no Hugging Face token was found" in flat
    assert "HF_TOKEN" in flat and "hf auth login" in flat and "refused" not in flat
    assert fake_hub.calls == []  # nothing was sent
    assert push_space(PushConfig(space=built_space, repo="alice/demo", token="hf_given")).endswith("alice/demo")


def test_push_and_serve_check_their_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="user/name"):
        PushConfig(space=tmp_path, repo="no-slash")
    with pytest.raises(DataError, match="not a built Space"):
        push_space(PushConfig(space=tmp_path, repo="alice/demo"))
    with pytest.raises(DataError, match="not a built Space"):
        serve_space(ServeConfig(space=tmp_path))
    with pytest.raises(ConfigError, match="--port"):
        ServeConfig(space=tmp_path, port=70000)


def test_serve_runs_app_py_on_the_asked_address(built_space: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_call(cmd: list[str], cwd: Path, env: dict[str, str]) -> int:
        seen.update(cmd=cmd, cwd=cwd, env=env)
        return 3

    monkeypatch.setattr(subprocess, "call", fake_call)
    assert serve_space(ServeConfig(space=built_space, host="127.0.0.1", port=7999)) == 3
    assert seen["cmd"] == [sys.executable, "app.py"] and seen["cwd"] == built_space.resolve()
    assert (seen["env"]["GRADIO_SERVER_NAME"], seen["env"]["GRADIO_SERVER_PORT"]) == ("127.0.0.1", "7999")
    result = CliRunner().invoke(app, ["space", "serve", str(built_space), "--port", "7999"])
    assert result.exit_code == 1 and "exited with code 3" in " ".join(result.output.split())
