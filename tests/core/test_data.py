"""Data sets: found under the data root, downloaded with checksums from a server the test runs."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from deepkata.core import data
from deepkata.core.errors import UserError


@pytest.fixture
def server(tmp_path):
    """An HTTP server on localhost serving tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def dataset(url: str, files: dict[str, bytes]) -> data.RemoteDataset:
    return data.RemoteDataset("demo", url, {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}, "a demo corpus")


FILES = {"train.en": b"i have a pen .\n", "train.ja": "ペン を 持 っ て い る 。\n".encode()}


def test_downloads_missing_files_checks_them_and_reuses_them(server, tmp_path, monkeypatch):
    served, url = server
    for name, payload in FILES.items():
        (served / name).write_bytes(payload)
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path / "root"))
    ds = dataset(url, FILES)
    folder = data.locate(ds)
    assert folder == tmp_path / "root" / "demo"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == FILES
    (served / "train.en").unlink()  # a second call needs no network
    assert data.locate(ds) == folder


def test_a_corrupt_download_is_refused_and_not_kept(server, tmp_path, monkeypatch):
    served, url = server
    (served / "train.en").write_bytes(b"tampered\n")
    (served / "train.ja").write_bytes(FILES["train.ja"])
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path / "root"))
    with pytest.raises(UserError, match=r"train.en: sha256 [0-9a-f]{64}, expected .*the file was not kept"):
        data.locate(dataset(url, FILES))
    assert not (tmp_path / "root" / "demo" / "train.en").exists()


def test_offline_names_the_files_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPKATA_DATA", str(tmp_path / "root"))
    ds = dataset("http://127.0.0.1:9/", FILES)  # the discard port: nothing listens
    with pytest.raises(UserError) as e:
        data.locate(ds)
    message = str(e.value)
    assert "cannot download http://127.0.0.1:9/train.en" in message
    assert "put train.en, train.ja (a demo corpus) in" in message and str(tmp_path / "root" / "demo") in message
    assert "\n" not in message


def test_an_explicit_folder_is_checked_never_filled(tmp_path):
    ds = dataset("http://127.0.0.1:9/", FILES)
    (tmp_path / "train.en").write_bytes(FILES["train.en"])
    with pytest.raises(UserError, match=r"--data .*: missing train.ja \(a demo corpus\)"):
        data.locate(ds, tmp_path)
    (tmp_path / "train.ja").write_bytes(b"other\n")
    with pytest.raises(UserError, match="train.ja: sha256 .* not the expected file"):
        data.locate(ds, tmp_path)
    (tmp_path / "train.ja").write_bytes(FILES["train.ja"])
    assert data.locate(ds, tmp_path) == tmp_path


def test_the_data_root_defaults_to_a_cache_folder(monkeypatch):
    monkeypatch.delenv("DEEPKATA_DATA", raising=False)
    assert data.data_root() == Path.home() / ".cache" / "deepkata"
