"""The one place that imports argostranslate, configured for offline use.

argostranslate reads its configuration from the environment once, at import, and creates folders
there (``~/.local/share/argos-translate`` …). Two of its defaults break an offline server:
sentence splitting fetches a model on first use (MiniSBD/Stanza, or spaCy's ``xx_sent_ud_sm`` via
``spacy download``), and ``ARGOS_CHUNK_TYPE=NONE`` silently disables every package. So, before the
first import, and only for its duration (the variables would otherwise leak into every library
that honours XDG paths, including our own data dir default):

* XDG_DATA_HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME point into ``<data_dir>/argos``;
* ARGOS_PACKAGES_DIR points at our packages folder;
* ARGOS_CHUNK_TYPE=SPACY, with a blank multilingual spaCy pipeline saved where argostranslate looks
  for its cached sentence model, so nothing is downloaded. Argos adds spaCy's rule-based
  ``sentencizer`` (punctuation) to it, which is all a short answer needs.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from core.errors import WegweiserError

log = logging.getLogger(__name__)
_lock = threading.Lock()


@dataclass(frozen=True)
class Argos:
    package: ModuleType
    translate: ModuleType
    settings: ModuleType


_argos: Argos | None = None


def argos_environment(home: Path, packages_dir: Path) -> dict[str, str]:
    return {
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "ARGOS_PACKAGES_DIR": str(packages_dir),
        "ARGOS_CHUNK_TYPE": "SPACY",
        "ARGOS_DEVICE_TYPE": "cpu",
        "ARGOS_DEBUG": "0",
    }


def prepare_spacy_cache(cache_dir: Path) -> Path:
    """A blank spaCy pipeline where argostranslate expects its cached ``xx_sent_ud_sm``.

    argostranslate only checks that ``spacy/senter/model`` exists, then loads the ``spacy`` folder and
    adds the rule-based sentencizer, so an empty marker file stands in for the statistical model.
    """
    target = cache_dir / "spacy"
    if (target / "senter" / "model").exists() and (target / "config.cfg").exists():
        return target
    import spacy

    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".spacy-", dir=cache_dir))
    spacy.blank("xx").to_disk(staging)
    (staging / "senter").mkdir()
    (staging / "senter" / "model").write_bytes(b"")
    try:
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except OSError:
        # Another process prepared it at the same moment; theirs is identical.
        shutil.rmtree(staging, ignore_errors=True)
    return target


def import_argos(home: Path, packages_dir: Path) -> Argos:
    """Import argostranslate once per process, offline. Later calls return the same modules (its
    settings are fixed at import; we pass our own package paths to it, so that does not matter)."""
    global _argos
    with _lock:
        if _argos is not None:
            return _argos
        env = argos_environment(home, packages_dir)
        if "argostranslate.settings" in sys.modules:
            log.warning("argostranslate was imported before Wegweiser configured it; its folders may be in $HOME")
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            import argostranslate.settings as argos_settings

            prepare_spacy_cache(Path(argos_settings.cache_dir))
            import argostranslate.package as argos_package
            import argostranslate.translate as argos_translate
        except ImportError as e:
            raise WegweiserError(f"argostranslate is not installed: {e}") from e
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if argos_settings.chunk_type != argos_settings.ChunkType.SPACY:
            raise WegweiserError("argostranslate was configured elsewhere; sentence splitting would go online")
        # argostranslate sets its own logger to INFO and logs every sentence and translation there,
        # which would put people's messages into our logs: texts are never logged.
        logging.getLogger("argostranslate").setLevel(logging.WARNING)
        logging.getLogger("argostranslate.utils").setLevel(logging.WARNING)
        _argos = Argos(argos_package, argos_translate, argos_settings)
        return _argos
