"""Damaged, read-only and full bases (issue 16, items 8-12): a clear message and exit 1, the
base unchanged, searches served where they can be; never a traceback.

Real faults: bytes overwritten in the real files, a read-only bind mount and a small tmpfs
where this machine lets the test mount them (root), else those two tests are skipped."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from kb import KnowledgeBase
from kb.cli.main import main
from tests.conftest import HEADERS, ROWS, write_ledger

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = 4096


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"kb {' '.join(args[2:4])}: traceback") from result.exception
    return result.exit_code, result.output


def _base(root: Path) -> Path:
    code, out = run("--index", str(root), "ingest", str(write_ledger(root.parent / "l.csv")))
    assert code == 0, out
    return root


def _hits(root: Path) -> list[tuple[str, float]]:
    with KnowledgeBase.open(root) as kb:
        return [(h.case.id, round(h.score, 5)) for h in kb.search("荷物が届かない", top_k=5).hits]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_bit_flipped_faiss_file_is_rebuilt_instead_of_served(tmp_path: Path) -> None:
    root = _base(tmp_path / "kb")
    before = _hits(root)
    faiss_file = root / "vectors.faiss"
    data = bytearray(faiss_file.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\x7f" * 64  # vector bytes: the header is intact
    faiss_file.write_bytes(bytes(data))
    assert _hits(root) == before  # rebuilt from SQLite on open, not served damaged
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 0, out  # and the rebuilt file was saved


def _corrupt_page(db: Path) -> None:
    """Overwrite one page in the second half of the file (b-tree pages, not the header)."""
    data = bytearray(db.read_bytes())
    pages = len(data) // PAGE
    start = (pages * 2 // 3) * PAGE
    data[start:start + PAGE] = bytes(range(256)) * (PAGE // 256)
    db.write_bytes(bytes(data))


def test_ingest_into_a_page_corrupted_file_is_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    root = _base(tmp_path / "kb")
    database = root / "kb.sqlite3"
    _corrupt_page(database)
    before = _digest(database)
    more = write_ledger(tmp_path / "more.csv", [[f"N-{i}", *ROWS[0][1:]] for i in range(5)])
    code, out = run("--index", str(root), "ingest", str(more))
    assert code == 1
    assert "the SQLite file of the knowledge base" in out and "is damaged" in out, out
    assert "kb restore" in out
    assert _digest(database) == before  # nothing was committed into the damaged file
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 1 and "kb restore" in out, out


def test_a_header_corrupted_file_gives_messages_in_cli_and_app(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    root = _base(tmp_path / "kb")
    database = root / "kb.sqlite3"
    data = bytearray(database.read_bytes())
    data[:100] = b"\x00" * 100
    database.write_bytes(bytes(data))
    for command in (["stats"], ["search", "荷物"], ["check"], ["check", "--no-repair"],
                    ["ingest", str(tmp_path / "l.csv")]):
        code, out = run("--index", str(root), *command)
        assert code == 1, (command, out)
        assert "is damaged" in out and "kb restore" in out, (command, out)
    monkeypatch.setenv("KB_INDEX_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert "壊れています" in at.error[0].value and "kb restore" in at.error[0].value


# ---- read-only and full: real mounts where the machine allows them ----

def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def read_only_copy(tmp_path: Path) -> Iterator[Path]:
    root = _base(tmp_path / "kb")
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() != 0 or not _mount("--bind", str(root), str(target)):
        pytest.skip("needs a read-only bind mount (root)")
    try:
        if not _mount("-o", "remount,bind,ro", str(target)):
            pytest.skip("cannot remount read-only here")
        yield target
    finally:  # lazily if something still has a file open there: never leave a mount behind
        if subprocess.run(["umount", str(target)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_a_read_only_base_is_searchable_and_refuses_writes_by_name(read_only_copy: Path,
                                                                   tmp_path: Path) -> None:
    source = tmp_path / "kb"
    before = _hits(source)
    assert _hits(read_only_copy) == before
    code, out = run("--index", str(read_only_copy), "search", "荷物が届かない")
    assert code == 0 and "T-00" in out, out
    code, out = run("--index", str(read_only_copy), "check", "--no-repair")
    assert code == 0, out
    code, out = run("--index", str(read_only_copy), "ingest", str(tmp_path / "l.csv"))
    assert code == 1 and "is read-only" in out and str(read_only_copy) in out, out
    code, out = run("--index", str(read_only_copy), "delete", "T-001")
    assert code == 1 and "is read-only" in out, out
    assert _hits(source) == before


def test_a_read_only_large_base_keeps_its_lexical_index_in_memory(
        read_only_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large base builds BM25 in memory when lexical.npz is missing or stale and saves it;
    a read-only directory cannot take the file, and the search is served all the same."""
    from kb.index import bm25_memory
    from kb.storage.layout import LEXICAL

    def lexical_hits() -> list[tuple[str, float]]:
        with KnowledgeBase.open(read_only_copy) as kb:
            return [(h.case.id, round(h.score, 5)) for h in kb.search("届かない", mode="lexical").hits]

    expected = lexical_hits()  # small: FTS5 answers, and no lexical.npz was written
    monkeypatch.setattr(bm25_memory, "MIN_ROWS", 1)  # now it counts as large
    assert expected and lexical_hits() == expected
    assert not (read_only_copy / LEXICAL).exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)):
        pytest.skip("needs a small tmpfs mount (root)")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill_up(filler: Path) -> None:
    """Append to `filler` until the file system has not a byte left."""
    with filler.open("ab", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_is_named_nothing_changes_and_no_temp_file_is_left(small_disk: Path,
                                                                       tmp_path: Path) -> None:
    root = small_disk / "kb"
    code, out = run("--index", str(root), "ingest", str(write_ledger(tmp_path / "l.csv")))
    assert code == 0, out
    before = _hits(root)
    with KnowledgeBase.open(root) as kb:
        version = kb.stats().state_version
    filler = small_disk / "filler"
    with filler.open("wb") as handle:  # leave ~160 KB: enough to open and read, not to ingest
        while os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize > 160 * 1024:
            handle.write(b"\0" * 16 * 1024)
            handle.flush()
    rows = [[f"F-{i}", "2024/01/10", "長文", "とても長い申し出の本文です。" * 150, *ROWS[0][4:]]
            for i in range(40)]
    code, out = run("--index", str(root), "ingest", str(write_ledger(tmp_path / "big.csv", rows,
                                                                     HEADERS)))
    assert code == 1, out
    assert f"disk full in {root}" in out and "MB free" in out, out
    assert "Traceback" not in out and "cannot rollback" not in out
    assert not list(root.glob(".*.tmp*")), list(root.iterdir())
    assert _hits(root) == before  # searches still served while the disk is full
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 0, out
    _fill_up(filler)  # now not a byte left
    assert _hits(root) == before  # SQLite cannot make its WAL index: read-only, still served
    for command in (["stats"], ["check", "--no-repair"]):
        code, out = run("--index", str(root), *command)
        assert code == 0, (command, out)
    for command in (["ingest", str(tmp_path / "l.csv")], ["check"]):
        code, out = run("--index", str(root), *command)
        assert code == 1 and f"disk full in {root} (0.0 MB free)" in out, (command, out)
        assert "damaged" not in out and "kb restore" not in out  # not the advice for a full disk
    assert not list(root.glob(".*.tmp*")), list(root.iterdir())
    filler.unlink()
    with KnowledgeBase.open(root) as kb:
        assert kb.stats().state_version == version


def test_a_faiss_save_that_fails_on_a_full_disk_leaves_no_temp_file_and_serves_from_memory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same call a full disk fails (the FAISS save after the commit), made to fail here."""
    import errno

    from kb.index import base

    root = _base(tmp_path / "kb")
    real_replace = base.os.replace

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(base.os, "replace", full)  # the rename of the written temp file
    more = write_ledger(tmp_path / "more.csv", [[f"N-{i}", *ROWS[0][1:3], f"追加の申し出 {i}",
                                                 *ROWS[0][4:]] for i in range(3)])
    with KnowledgeBase.open(root) as kb:
        report = kb.ingest_ledger(more)  # committed; the FAISS file could not be replaced
        assert report.new == 3
        assert any(h.case.id == "N-1" for h in kb.search("追加の申し出 1", top_k=5).hits)
    assert not list(root.glob(".*.tmp*")), list(root.iterdir())
    monkeypatch.setattr(base.os, "replace", real_replace)
    with KnowledgeBase.open(root) as kb:  # the stale file is rebuilt on the next open
        assert any(h.case.id == "N-1" for h in kb.search("追加の申し出 1", top_k=5).hits)
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 0, out


def test_the_lexical_index_save_on_a_full_disk_serves_from_memory_and_leaves_no_temp_file(
        small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A large base keeps BM25 in memory and saves it as lexical.npz when a search first
    needs it after a change; on a full disk that save fails (a real full tmpfs). The size
    threshold is lowered so that this small base counts as large."""
    from kb.index import bm25_memory
    from kb.index.bm25_memory import LexicalIndex
    from kb.storage.layout import CASES_KEY, LEXICAL

    def lexical_hits() -> list[tuple[str, float]]:
        with KnowledgeBase.open(root) as kb:
            return [(h.case.id, round(h.score, 5)) for h in kb.search("届かない", mode="lexical").hits]

    monkeypatch.setattr(bm25_memory, "MIN_ROWS", 1)
    root = _base(small_disk / "kb")
    saved = root / LEXICAL
    assert saved.is_file()  # written by the ingest's calibration
    code, out = run("--index", str(root), "delete", "T-002")  # a change: the saved file is stale
    assert code == 0, out
    with KnowledgeBase.open(root) as kb:
        version = kb.store.index_version(CASES_KEY)
    assert LexicalIndex.load(saved, version) is None
    stale = _digest(saved)
    monkeypatch.setattr(bm25_memory, "MIN_ROWS", 10**9)
    expected = lexical_hits(), _hits(root)  # FTS5's own scores, which the memory index matches
    monkeypatch.setattr(bm25_memory, "MIN_ROWS", 1)
    _fill_up(small_disk / "filler")
    with caplog.at_level("WARNING", logger="kb.index.base"):
        assert (lexical_hits(), _hits(root)) == expected  # built in memory, served from it
    assert "T-002" not in [case_id for case_id, _ in expected[0]] and expected[0]
    warned = [r.getMessage() for r in caplog.records if r.name == "kb.index.base"]
    assert warned and all(w.startswith("ディスクがいっぱいです") for w in warned), warned
    assert f"disk full in {root} (0.0 MB free): lexical.npz was not saved" in warned[0], warned
    assert not list(root.glob(".*.tmp*")), list(root.iterdir())
    assert _digest(saved) == stale  # the old file is left whole, not half-overwritten
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 0, out
    (small_disk / "filler").unlink()
    code, out = run("--index", str(root), "check", "--no-repair")
    assert code == 0, out
    assert lexical_hits() == expected[0]
    assert LexicalIndex.load(saved, version) is not None  # saved once there was room
