"""Where real data sets live, and how they get there: a checksummed download, or a clear error.

Data sets sit in folders under the data root, ``$DEEPKATA_DATA`` or, unset,
``~/.cache/deepkata``. A :class:`RemoteDataset` names its folder, the address its files come
from and each file's sha256. :func:`locate` finds a complete copy (in a folder the user gave
with ``--data``, or under the data root), downloading missing files when the network allows;
every file is checked against its sha256 and written atomically. Offline, it fails with one
line naming the files it expects and where to put them.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deepkata.core.errors import UserError
from deepkata.core.records import atomic_write


def data_root() -> Path:
    """``$DEEPKATA_DATA``, or ``~/.cache/deepkata`` when it is unset."""
    root = os.environ.get("DEEPKATA_DATA")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "deepkata"


@dataclass(frozen=True)
class RemoteDataset:
    folder: str  # its folder under the data root
    base_url: str  # files are fetched from base_url + name
    files: dict[str, str]  # name -> sha256
    description: str

    def missing(self, folder: Path) -> list[str]:
        return [name for name in self.files if not (folder / name).is_file()]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dataset: RemoteDataset, folder: Path, *, timeout: float = 30.0) -> None:
    """Download the files missing from ``folder``, each checked against its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in dataset.missing(folder):
        url = dataset.base_url + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise UserError(
                f"cannot download {url} ({reason}); offline, put {', '.join(sorted(dataset.missing(folder)))} "
                f"({dataset.description}) in {folder}, or set DEEPKATA_DATA to a folder holding {dataset.folder}/"
            ) from None
        got = hashlib.sha256(payload).hexdigest()
        if got != dataset.files[name]:
            raise UserError(f"{url}: sha256 {got}, expected {dataset.files[name]}; the file was not kept")
        atomic_write(folder / name, lambda f, payload=payload: f.write(payload))


def locate(dataset: RemoteDataset, explicit: Path | None = None, *, download: bool = True) -> Path:
    """A folder holding every file of ``dataset``, verified; see the module docstring.

    ``explicit`` (from ``--data``) is used as it is and never downloaded into.
    """
    folder = Path(explicit) if explicit is not None else data_root() / dataset.folder
    if explicit is not None:
        missing = dataset.missing(folder)
        if missing:
            raise UserError(f"--data {folder}: missing {', '.join(missing)} ({dataset.description})")
    elif dataset.missing(folder) and download:
        fetch(dataset, folder)
    elif dataset.missing(folder):
        raise UserError(f"{folder}: missing {', '.join(dataset.missing(folder))} ({dataset.description}); set DEEPKATA_DATA")
    for name, expected in dataset.files.items():
        got = sha256(folder / name)
        if got != expected:
            raise UserError(f"{folder / name}: sha256 {got}, expected {expected}: not the expected file")
    return folder
