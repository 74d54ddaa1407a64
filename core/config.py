"""Configuration read once from the environment into a typed, immutable settings object."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from core.errors import ConfigError

T = TypeVar("T")

PROJECT_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT_DIR = PROJECT_PACKAGE_ROOT / "knowledge" / "content" / "bautzen"


def _default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "wegweiser"


def _number(env: dict[str, str], name: str, default: T, cast: Callable[[str], T]) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as e:
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from e


def _int(env: dict[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int)


def _float(env: dict[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float)


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _languages(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    return tuple(dict.fromkeys(code.strip().lower() for code in raw.split(",") if code.strip()))


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
    # The bot (Telegram transport, storage, privacy)
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org/bot"
    database_url: str | None = None  # default: SQLite in data_dir
    pseudonym_key: str | None = field(default=None, repr=False)
    retention_days: int = 30
    allow_groups: bool = False
    webhook_url: str | None = None  # set → webhook mode instead of long polling
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    district: str = "Bautzen"
    # Intents: "builtin" (in-process, default) or "rasa" (a Rasa 3.6 server, built-in as fall-back)
    nlu_backend: str = "builtin"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = field(default=None, repr=False)
    # Hand-over to people (staff forum group, language mediators)
    staff_chat_id: str | None = None  # the staff supergroup with topics; unset: mediators only
    teams_file: Path | None = None  # default: bot/handover/teams.yaml
    offer_timeout_s: float = 180.0
    sweep_interval_s: float = 5.0
    queue_max_wait_s: float = 1800.0
    # Machine translation (argostranslate, offline). Packages live in mt_packages_dir (default:
    # data_dir/argos/packages); at most mt_max_loaded models stay in memory (least recently used out).
    mt_packages_dir: Path | None = None
    mt_max_loaded: int = 2
    mt_threads: int = 1  # CTranslate2 threads per model call
    # Languages every curated answer is machine-translated into by `wegweiser translations build`
    # (those without curated answers in the Bautzen pack).
    mt_languages: tuple[str, ...] = ("ps", "so", "ku", "ti", "fr")
    mt_index_url: str = "https://raw.githubusercontent.com/argosopentech/argospm-index/main/"

    @property
    def argos_dir(self) -> Path:
        """argostranslate's own data, config and cache folders (kept out of the user's home)."""
        return self.data_dir / "argos"

    @property
    def packages_dir(self) -> Path:
        return self.mt_packages_dir or self.argos_dir / "packages"

    @property
    def mt_cache_file(self) -> Path:
        return self.data_dir / "mt_cache.sqlite"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'wegweiser.db'}"

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
            log_text=_flag(env, "WEGWEISER_LOG_TEXT"),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=env.get("TELEGRAM_API_URL") or base.telegram_api_url,
            database_url=env.get("WEGWEISER_DATABASE_URL") or None,
            pseudonym_key=env.get("WEGWEISER_PSEUDONYM_KEY") or None,
            retention_days=_int(env, "WEGWEISER_RETENTION_DAYS", base.retention_days),
            allow_groups=_flag(env, "WEGWEISER_ALLOW_GROUPS"),
            webhook_url=env.get("WEBHOOK_URL") or None,
            webhook_secret=env.get("WEBHOOK_SECRET") or None,
            webhook_listen=env.get("WEBHOOK_LISTEN") or base.webhook_listen,
            webhook_port=_int(env, "WEBHOOK_PORT", base.webhook_port),
            district=env.get("WEGWEISER_DISTRICT") or base.district,
            nlu_backend=(env.get("NLU_BACKEND") or base.nlu_backend).lower(),
            rasa_url=env.get("RASA_URL") or base.rasa_url,
            rasa_token=env.get("RASA_TOKEN") or None,
            staff_chat_id=env.get("WEGWEISER_STAFF_CHAT_ID") or None,
            teams_file=Path(env["WEGWEISER_TEAMS_FILE"]) if env.get("WEGWEISER_TEAMS_FILE") else None,
            offer_timeout_s=_float(env, "WEGWEISER_OFFER_TIMEOUT_S", base.offer_timeout_s),
            sweep_interval_s=_float(env, "WEGWEISER_SWEEP_INTERVAL_S", base.sweep_interval_s),
            queue_max_wait_s=_float(env, "WEGWEISER_QUEUE_MAX_WAIT_S", base.queue_max_wait_s),
            mt_packages_dir=Path(packages) if (packages := env.get("WEGWEISER_MT_PACKAGES_DIR")) else None,
            mt_max_loaded=max(1, _int(env, "WEGWEISER_MT_MAX_LOADED", base.mt_max_loaded)),
            mt_threads=max(1, _int(env, "WEGWEISER_MT_THREADS", base.mt_threads)),
            mt_languages=_languages(env.get("WEGWEISER_MT_LANGUAGES"), base.mt_languages),
            mt_index_url=env.get("WEGWEISER_MT_INDEX_URL") or base.mt_index_url,
        )
