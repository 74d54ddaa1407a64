"""Set up and run a real Rasa Open Source 3.6 server for ``NLU_BACKEND=rasa``.

Rasa 3.6.21 is the last release and needs Python < 3.11, so it lives in its own Python 3.10
virtual environment (pyenv's 3.10 here). It trains from the same YAML as the built-in backend, with
a pipeline that downloads nothing, serves on 127.0.0.1 only, always with ``--auth-token`` (the API
can otherwise replace models), and with telemetry off.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.errors import ConfigError, WegweiserError
from nlu.training_data import TRAIN_FILE

log = logging.getLogger(__name__)
RASA_VERSION = "3.6.21"
# Whitespace tokens plus character n-grams: works for every script we serve, needs no language model.
PIPELINE_CONFIG = """\
recipe: default.v1
assistant_id: wegweiser
language: xx
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 2
    max_ngram: 4
  - name: DIETClassifier
    epochs: 40
    random_seed: 7
  - name: EntitySynonymMapper
policies: []
"""


def rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def find_python310() -> str:
    """RASA_PYTHON, else pyenv's 3.10, else python3.10 on PATH."""
    if os.environ.get("RASA_PYTHON"):
        return os.environ["RASA_PYTHON"]
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in roots:
        found = sorted(glob.glob(f"{root}/versions/3.10*/bin/python3.10")) if root else []
        if found:
            return found[-1]
    which = shutil.which("python3.10")
    if which:
        return which
    raise ConfigError("Rasa needs Python 3.10: set RASA_PYTHON or install it with pyenv")


@dataclass(frozen=True)
class RasaSetup:
    home: Path

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def rasa(self) -> Path:
        return self.venv / "bin" / "rasa"

    @property
    def config(self) -> Path:
        return self.home / "config.yml"

    def installed(self) -> bool:
        return (self.venv / f".rasa-{RASA_VERSION}").is_file()

    def install(self) -> float:
        """Create the 3.10 venv and install Rasa; returns seconds taken (0 when already there)."""
        if self.installed():
            return 0.0
        started = time.perf_counter()
        self.home.mkdir(parents=True, exist_ok=True)
        # A half-built or dangling environment from an interrupted run is replaced, not reused.
        if self.venv.is_symlink():
            self.venv.unlink()
        elif self.venv.exists():
            shutil.rmtree(self.venv)
        subprocess.run([find_python310(), "-m", "venv", str(self.venv)], check=True)
        pip = str(self.venv / "bin" / "pip")
        subprocess.run([pip, "install", "-q", f"rasa=={RASA_VERSION}"], check=True, env=rasa_env())
        (self.venv / f".rasa-{RASA_VERSION}").write_text("ok\n")
        return time.perf_counter() - started

    def model_path(self, data: Path = TRAIN_FILE) -> Path:
        digest = hashlib.sha256(data.read_bytes() + PIPELINE_CONFIG.encode()).hexdigest()[:12]
        return self.home / "models" / f"wegweiser-{digest}.tar.gz"

    def train(self, data: Path = TRAIN_FILE) -> tuple[Path, float]:
        """Train from the project's YAML unless a model for exactly this data and config exists."""
        model = self.model_path(data)
        if model.is_file():
            return model, 0.0
        if not self.installed():
            raise WegweiserError("Rasa is not installed: run `wegweiser nlu rasa-setup` first")
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(PIPELINE_CONFIG, encoding="utf-8")
        started = time.perf_counter()
        with (self.home / "train.log").open("wb") as log_file:
            subprocess.run(
                [str(self.rasa), "train", "nlu", "--nlu", str(data), "--config", str(self.config),
                 "--out", str(model.parent), "--fixed-model-name", model.name.removesuffix(".tar.gz")],
                check=True, env=rasa_env(), cwd=self.home, stdout=log_file, stderr=subprocess.STDOUT,
            )
        return model, time.perf_counter() - started

    def serve(self, token: str, port: int = 5005, model: Path | None = None) -> subprocess.Popen[bytes]:
        """Start ``rasa run --enable-api`` on 127.0.0.1 with the auth token; the caller stops it."""
        if not token:
            raise ConfigError("the Rasa server needs an auth token (RASA_TOKEN)")
        model = model or self.model_path()
        return subprocess.Popen(
            [str(self.rasa), "run", "--enable-api", "--auth-token", token, "-i", "127.0.0.1", "-p", str(port),
             "-m", str(model)],
            env=rasa_env(), cwd=self.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )


def wait_until_ready(url: str, token: str, timeout_s: float = 120.0) -> float:
    """Wait until the server has a model loaded; returns seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        try:
            status = httpx.get(f"{url}/status", params={"token": token}, timeout=2.0)
            if status.status_code == 200 and status.json().get("model_file"):
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise WegweiserError(f"Rasa server at {url} did not become ready within {timeout_s:.0f} s")
