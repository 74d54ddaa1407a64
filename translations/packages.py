"""argostranslate packages on disk: list, install (from a file or Argos' index), remove.

A ``.argosmodel`` is a zip with one top-level folder holding ``metadata.json`` (``from_code``,
``to_code``, ``package_version``, ``type``), ``sentencepiece.model`` (or ``bpe.model``) and a
CTranslate2 ``model/``. We install into our own packages folder rather than through
``argostranslate.package.install_from_path``, which extracts into a folder fixed at import time,
trusts every path in the archive and keeps an older copy of the same pair next to the new one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import PackageError, PackageIndexUnavailable

log = logging.getLogger(__name__)
PACKAGE_SUFFIX = ".argosmodel"
INDEX_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class InstalledPackage:
    source: str
    target: str
    version: str
    path: Path
    fingerprint: str  # changes whenever the package is replaced, even under the same version
    size_bytes: int
    source_name: str = ""
    target_name: str = ""

    @property
    def pair(self) -> tuple[str, str]:
        return self.source, self.target


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _fingerprint(folder: Path, metadata: bytes) -> str:
    digest = hashlib.sha256(metadata)
    for model_file in sorted((folder / "model").glob("*")):
        if model_file.is_file():
            stat = model_file.stat()
            digest.update(f"{model_file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def read_package(folder: Path) -> InstalledPackage:
    """Metadata of one installed package folder; :class:`PackageError` if it is not a usable one."""
    meta_file = folder / "metadata.json"
    try:
        raw = meta_file.read_bytes()
        meta = json.loads(raw)
    except (OSError, ValueError) as e:
        raise PackageError(f"{folder}: no readable metadata.json ({e})") from e
    if not isinstance(meta, dict) or meta.get("type", "translate") != "translate":
        raise PackageError(f"{folder}: not a translation package")
    source, target = meta.get("from_code"), meta.get("to_code")
    if not isinstance(source, str) or not isinstance(target, str) or not source or not target:
        raise PackageError(f"{folder}: metadata.json lacks from_code/to_code")
    if not (folder / "model" / "model.bin").is_file():
        raise PackageError(f"{folder}: no CTranslate2 model/model.bin")
    if not ((folder / "sentencepiece.model").is_file() or (folder / "bpe.model").is_file()):
        raise PackageError(f"{folder}: no sentencepiece.model or bpe.model")
    return InstalledPackage(
        source=source, target=target, version=str(meta.get("package_version", "")), path=folder,
        fingerprint=_fingerprint(folder, raw), size_bytes=_folder_size(folder),
        source_name=str(meta.get("from_name", "")), target_name=str(meta.get("to_name", "")),
    )


def installed_packages(packages_dir: Path) -> list[InstalledPackage]:
    """Every usable package in ``packages_dir``; broken folders are logged and skipped, never fatal."""
    if not packages_dir.is_dir():
        return []
    found: dict[tuple[str, str], InstalledPackage] = {}
    for folder in sorted(p for p in packages_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            pkg = read_package(folder)
        except PackageError as e:
            log.warning("translations.package_skipped reason=%s", e)
            continue
        if pkg.pair in found:
            log.warning("translations.package_duplicate pair=%s-%s kept=%s", *pkg.pair, found[pkg.pair].path)
            continue
        found[pkg.pair] = pkg
    return sorted(found.values(), key=lambda p: p.pair)


def _safe_members(archive: zipfile.ZipFile) -> str:
    """The single top-level folder of the archive; refuses absolute paths and ``..``."""
    tops = set()
    for name in archive.namelist():
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise PackageError(f"unsafe path in package: {name!r}")
        tops.add(path.parts[0])
    if len(tops) != 1:
        raise PackageError(f"a package holds exactly one top-level folder, found {sorted(tops)}")
    return tops.pop()


def install_package(archive_path: Path, packages_dir: Path) -> InstalledPackage:
    """Install (or replace) a ``.argosmodel`` into ``packages_dir``; the pair decides the folder name."""
    if not zipfile.is_zipfile(archive_path):
        raise PackageError(f"{archive_path} is not an .argosmodel (zip) file")
    packages_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=packages_dir))
    try:
        with zipfile.ZipFile(archive_path) as archive:
            top = _safe_members(archive)
            archive.extractall(staging)
        pkg = read_package(staging / top)
        final = packages_dir / f"translate-{pkg.source}_{pkg.target}"
        # Swap in place so a running bot never sees a half-written package.
        old = None
        if final.exists():
            old = packages_dir / f".old-{final.name}-{staging.name}"
            final.rename(old)
        (staging / top).rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return read_package(final)
    except (OSError, zipfile.BadZipFile) as e:
        raise PackageError(f"cannot install {archive_path}: {e}") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_package(source: str, target: str, packages_dir: Path) -> InstalledPackage:
    for pkg in installed_packages(packages_dir):
        if pkg.pair == (source, target):
            shutil.rmtree(pkg.path)
            return pkg
    raise PackageError(f"no package {source}→{target} installed in {packages_dir}")


def _fetch(url: str, what: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (URL from our settings)
            return bytes(response.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise PackageIndexUnavailable(
            f"cannot reach {what} at {url} ({e}). This machine seems to be offline: download the "
            f".argosmodel file elsewhere and run `wegweiser translations install FILE.argosmodel`."
        ) from e


def available_packages(index_url: str, timeout: float = INDEX_TIMEOUT_S) -> list[dict[str, object]]:
    """Argos' published package index (a JSON list of package metadata)."""
    url = index_url if index_url.endswith(".json") else index_url.rstrip("/") + "/index.json"
    raw = _fetch(url, "Argos' package index", timeout)
    try:
        index = json.loads(raw)
    except ValueError as e:
        raise PackageError(f"the package index at {url} is not JSON") from e
    if not isinstance(index, list):
        raise PackageError(f"the package index at {url} is not a list")
    return [item for item in index if isinstance(item, dict)]


def install_from_index(source: str, target: str, packages_dir: Path, index_url: str,
                       timeout: float = INDEX_TIMEOUT_S) -> InstalledPackage:
    candidates = [p for p in available_packages(index_url, timeout)
                  if p.get("from_code") == source and p.get("to_code") == target]
    if not candidates:
        raise PackageError(f"Argos' index has no package {source}→{target}; "
                           f"translation can still go through English if {source}→en and en→{target} exist")
    links = candidates[0].get("links")
    if not isinstance(links, list) or not links:
        raise PackageError(f"the index entry for {source}→{target} has no download link")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / f"translate-{source}_{target}{PACKAGE_SUFFIX}"
        archive.write_bytes(_fetch(str(links[0]), f"the {source}→{target} package", timeout * 15))
        return install_package(archive, packages_dir)
