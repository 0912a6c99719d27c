"""Client folders: one per PSA account, named exactly like it, and safe file writes there.

One rule for the whole hub: the DocuSign connector saves signed terms with it
(through :mod:`hub.sdk`) and ``hub compliance`` checks with it that every customer's
folder exists, so the two can never disagree about a folder's name.

A folder is named exactly like the PSA account, except for what a file system cannot
hold. The rule is percent-encoding of just these characters, so it is reversible and
a name without them is used unchanged:

* ``%`` itself (as ``%25``), so that decoding is unambiguous;
* ``/`` (``%2F``), ``\\`` (``%5C``), ``:`` (``%3A``) and NUL (``%00``);
* a leading ``.`` (``%2E``): no hidden folders, and ``.`` / ``..`` cannot occur.

``Acme / Widgets: East`` becomes ``Acme %2F Widgets%3A East``; ``..`` becomes
``%2E.``. :func:`decode_name` reverses it. A name longer than a file system allows
(255 bytes encoded) is refused rather than cut, so two accounts can never share a folder.

Files are written atomically (a temp file in the same folder, fsync, then a hard link
to the final name, which fails instead of replacing an existing file) and never
overwrite anything: a new version gets a new name, ``name (2).pdf``, ``name (3).pdf``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError

__all__ = ["SavedFile", "client_folder", "decode_name", "encode_name", "folder_path", "save_new_file"]

_ENCODED = {"%": "%25", "/": "%2F", "\\": "%5C", ":": "%3A", "\x00": "%00"}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
MAX_NAME_BYTES = 255
MAX_VERSIONS = 1000


def encode_name(name: str) -> str:
    """The folder or file name for ``name`` (see the module docstring for the rule)."""
    if not name or not name.strip():
        raise ConfigError("a client folder name cannot be empty")
    encoded = "".join(_ENCODED.get(ch, ch) for ch in name)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ConfigError(f"name too long for a file system ({len(encoded)} characters encoded): {name[:60]!r}...")
    return encoded


def decode_name(encoded: str) -> str:
    """The original name of an encoded folder or file name."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), encoded)


def folder_path(root: Path, account_name: str) -> Path:
    """Where the client folder of ``account_name`` is (or belongs) under ``root``; creates nothing."""
    base = Path(root).resolve()
    folder = base / encode_name(account_name)
    if folder.parent != base:
        raise ConfigError(f"client folder for {account_name!r} would leave {base}")
    return folder


def client_folder(root: Path, account_name: str) -> Path:
    """``root/<encoded account name>``, created if missing; never outside ``root``."""
    base = Path(root).resolve()
    folder = folder_path(base, account_name)
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink() or folder.resolve().parent != base:
        raise ConfigError(f"client folder {folder} leads outside {base}; refusing to write there")
    return folder


@dataclass(frozen=True)
class SavedFile:
    path: Path
    size: int
    sha256: str
    reused: bool = False


def _candidates(file_name: str) -> list[str]:
    stem, dot, ext = file_name.rpartition(".")
    if not dot or not stem:
        stem, ext = file_name, ""
    suffix = f".{ext}" if ext else ""
    return [file_name] + [f"{stem} ({n}){suffix}" for n in range(2, MAX_VERSIONS + 1)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_new_file(folder: Path, file_name: str, content: bytes) -> SavedFile:
    """Write ``content`` as ``file_name`` in ``folder`` without overwriting anything.

    A file of that name with the very same bytes is the same document saved by an
    earlier attempt of this step: it is reused, not duplicated. Otherwise the first
    free versioned name is taken.
    """
    name = encode_name(file_name)
    digest = hashlib.sha256(content).hexdigest()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        for candidate in _candidates(name):
            target = folder / candidate
            if target.exists():
                if target.is_file() and target.stat().st_size == len(content) and _sha256(target) == digest:
                    return SavedFile(target, len(content), digest, reused=True)
                continue
            try:
                os.link(tmp, target)  # atomic, and refuses to replace an existing file
            except FileExistsError:
                continue
            return SavedFile(target, len(content), digest)
        raise ConfigError(f"{folder}: more than {MAX_VERSIONS} versions of {file_name!r}")
    finally:
        tmp.unlink(missing_ok=True)
