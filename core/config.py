"""Configuration read once from the environment into a typed, immutable settings object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError

PROJECT_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT_DIR = PROJECT_PACKAGE_ROOT / "knowledge" / "content" / "bautzen"


def _default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "wegweiser"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from e


@dataclass(frozen=True)
class Settings:
    """Every knob of the answer engine; defaults serve the bundled Bautzen pack."""

    content_dir: Path = DEFAULT_CONTENT_DIR
    data_dir: Path = field(default_factory=_default_data_dir)
    # "e5-small-q4" (multilingual, default), "minilm" (bundled all-MiniLM-L6-v2) or "st:/path/to/model".
    embedder: str = "e5-small-q4"
    thresholds_file: Path | None = None
    # Long messages cost ~1.2 ms per token to embed; the first tokens carry the question.
    max_query_tokens: int = 48
    max_input_chars: int = 4096
    log_text: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base = cls()
        thresholds = env.get("WEGWEISER_THRESHOLDS")
        return cls(
            content_dir=Path(env.get("WEGWEISER_CONTENT_DIR") or base.content_dir),
            data_dir=Path(env.get("WEGWEISER_DATA_DIR") or base.data_dir),
            embedder=env.get("WEGWEISER_EMBEDDER") or base.embedder,
            thresholds_file=Path(thresholds) if thresholds else None,
            max_query_tokens=_int(env, "WEGWEISER_MAX_QUERY_TOKENS", base.max_query_tokens),
            max_input_chars=_int(env, "WEGWEISER_MAX_INPUT_CHARS", base.max_input_chars),
            log_text=env.get("WEGWEISER_LOG_TEXT", "").lower() in {"1", "true", "yes"},
        )
