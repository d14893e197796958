"""`seefood space push` / `serve`: upload a built Space to the Hugging Face Hub, or run it locally."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from seefood.errors import BackendMissingError, ConfigError, DataError, SeefoodError
from seefood.io import OUTPUTS_RECORD
from seefood.space.reference import SPACE_RECORD

log = logging.getLogger(__name__)
PUSH_IGNORE = ["logs/*", "logs/**", "__pycache__/*", "**/__pycache__/*", "*.pyc", "*.sqlite*", OUTPUTS_RECORD]
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


class HubError(SeefoodError):
    """The Hub refused or could not be reached; nothing is claimed to be uploaded."""


@dataclass(frozen=True)
class PushConfig:
    """Options of `seefood space push`."""

    space: Path
    repo: str  # "user/name" on the Hub
    private: bool = False
    token: str | None = None  # None: HF_TOKEN or the token saved by `hf auth login`

    def __post_init__(self) -> None:
        if not _REPO_ID.match(self.repo):
            raise ConfigError(f"--repo {self.repo!r} is not 'user/name': e.g. --repo alice/seefood-demo")


@dataclass(frozen=True)
class ServeConfig:
    """Options of `seefood space serve`."""

    space: Path
    host: str = "127.0.0.1"  # 0.0.0.0 exposes it to the network
    port: int = 7860

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port must be 1..65535, got {self.port}")


def check_space(path: Path) -> Path:
    """A folder written by `seefood space build` (app.py + space.json), else DataError."""
    if not (path / "app.py").is_file() or not (path / SPACE_RECORD).is_file():
        raise DataError(f"{path} is not a built Space (no app.py / {SPACE_RECORD}): run `seefood space build` first")
    return path


NO_TOKEN = ("no Hugging Face token was found: create one with write access at "
            "https://huggingface.co/settings/tokens, then `export HF_TOKEN=hf_...` or run `hf auth login`")


def _explain(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return (f"the Hub refused the token (HTTP {status}): run `hf auth login` or set HF_TOKEN to a token "
                f"with write access")
    if type(exc).__name__ == "LocalTokenNotFoundError":
        return NO_TOKEN
    if type(exc).__name__ == "OfflineModeIsEnabled":
        return "HF_HUB_OFFLINE is set: unset it to push"
    if status is None:
        return f"could not reach the Hugging Face Hub ({type(exc).__name__}: {exc}): check the network and retry"
    return f"the Hub answered HTTP {status} ({exc})"


def push_space(config: PushConfig) -> str:
    """Create (or reuse) the Space repo and upload the folder; return its URL. HubError on any failure."""
    space = check_space(Path(config.space))
    try:
        import huggingface_hub
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HFValidationError, HTTPError
    except ImportError:
        raise BackendMissingError("huggingface_hub", "pip install 'seefood[space]'") from None
    # without a token the Hub answers 401 as if a token were wrong: say what is actually missing
    if not config.token and not huggingface_hub.get_token():
        raise HubError(f"push to {config.repo} failed: {NO_TOKEN}")
    api = HfApi(token=config.token)
    try:
        url = api.create_repo(config.repo, repo_type="space", space_sdk="gradio", private=config.private,
                              exist_ok=True)
        commit = api.upload_folder(repo_id=config.repo, folder_path=space, repo_type="space",
                                   ignore_patterns=PUSH_IGNORE, commit_message="Upload Space from seefood space build")
    except (HTTPError, OSError, HFValidationError) as exc:  # HfHubHTTPError, token and offline errors are OSErrors
        raise HubError(f"push to {config.repo} failed: {_explain(exc)}") from None
    log.info("uploaded %s to %s (%s)", space, url, getattr(commit, "commit_url", ""))
    return str(url)


def serve_space(config: ServeConfig) -> int:
    """Run the Space's app.py on host:port until interrupted; return its exit code."""
    space = check_space(Path(config.space)).resolve()
    env = {**os.environ, "GRADIO_SERVER_NAME": config.host, "GRADIO_SERVER_PORT": str(config.port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    log.info("serving %s on http://%s:%d (Ctrl-C stops it)", space, config.host, config.port)
    return subprocess.call([sys.executable, "app.py"], cwd=space, env=env)
