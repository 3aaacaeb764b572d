"""The in-place reader of memory-mapped segments behaves as the copying file it replaces."""

from __future__ import annotations

import io
import mmap
import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import SearchIndex, SearchRequest
from index.storage import MappedSubfile, _ViewReader, mapped_resident_bytes, reads_in_place, trim_maps

from .conftest import DOCS

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readline"), st.integers(-1, 40)),
        st.tuples(st.just("readinto"), st.integers(0, 40)),
        st.tuples(st.just("seek"), st.integers(0, 80), st.sampled_from([os.SEEK_SET, os.SEEK_CUR])),
        st.tuples(st.just("seek_end"), st.integers(-60, 0)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=60).map(lambda b: b.replace(b"\x00", b"\n")), ops=OPS)
def test_view_reader_reads_like_bytesio(data: bytes, ops: list[tuple]) -> None:
    ours, theirs = _ViewReader(memoryview(data)), io.BytesIO(data)
    for op in ops:
        if op[0] == "read":
            assert ours.read(op[1]) == theirs.read(op[1])
        elif op[0] == "readline":
            assert ours.readline(op[1]) == theirs.readline(op[1])
        elif op[0] == "readinto":
            a, b = bytearray(op[1]), bytearray(op[1])
            assert ours.readinto(a) == theirs.readinto(b)
            assert a == b
        elif op[0] == "seek":
            assert ours.seek(op[1], op[2]) == theirs.seek(op[1], op[2])
        else:
            if len(data) + op[1] >= 0:
                assert ours.seek(op[1], os.SEEK_END) == theirs.seek(op[1], os.SEEK_END)
        assert ours.tell() == theirs.tell()


def test_mapped_subfile_reads_a_map_in_place(tmp_path: Path) -> None:
    payload = b"header" + pickle.dumps({"terms": list(range(50))}, -1) + b"line\nrest"
    path = tmp_path / "blob"
    path.write_bytes(b"xx" + payload)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)[2:]
        f = MappedSubfile(view, name="blob")
        assert f.read(6) == b"header"
        assert f.read_pickle() == {"terms": list(range(50))}
        assert f.file.readline() == b"line\n"
        assert f.get(0, 6) == b"header"
        # the reader refers to the map, it holds no copy of it
        assert f.file._view.obj is mapped
        f.close()
        del f, view


def test_segments_are_read_through_the_in_place_reader(tmp_path: Path) -> None:
    assert reads_in_place()
    ix = SearchIndex(tmp_path / "ix")
    ix.add_or_replace(DOCS)
    ix.add_or_replace(DOCS[:2])  # a second segment
    result = ix.search(SearchRequest(query="housing"))
    assert result.total > 0
    assert all(h.title for h in result.hits)
    ix.close()


def test_trimming_gives_back_mapped_pages_and_reads_go_on(tmp_path: Path, monkeypatch) -> None:
    if mapped_resident_bytes() is None:
        pytest.skip("needs /proc/self/statm (Linux) to see resident pages")
    import index.storage as storage

    monkeypatch.setattr(storage._BUDGET, "budget", None)  # no trimming while pages are touched
    size = 48 * 1024 * 1024
    path = tmp_path / "segment"
    with open(path, "wb") as fh:
        for i in range(size // (1024 * 1024)):
            fh.write(bytes([i % 251]) * (1024 * 1024))
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        f = MappedSubfile(memoryview(mapped), name="segment")
        before = mapped_resident_bytes()
        for offset in range(0, size, 4096):  # touch every page, as a long search would
            f.get(offset, 1)
        touched = mapped_resident_bytes()
        assert touched - before > size * 0.8
        assert not trim_maps(touched * 2)  # within the budget: nothing is let go
        assert trim_maps(1)
        assert mapped_resident_bytes() < touched - size * 0.8
        # the bytes are still there: the next read maps them again
        assert f.get(size - 4096, 3) == bytes([47 % 251]) * 3
        assert f.get(5 * 1024 * 1024, 1) == bytes([5])
        f.close()
        del f


def test_search_index_trims_to_its_budget_after_each_read(tmp_path: Path, monkeypatch) -> None:
    import index.storage as storage

    budgets: list[int | None] = []
    monkeypatch.setattr(storage, "trim_maps", lambda budget: budgets.append(budget) or False)
    monkeypatch.setattr(storage._BUDGET, "budget", None)
    ix = SearchIndex(tmp_path / "ix", mapped_budget_mb=3)
    ix.add_or_replace(DOCS)
    assert ix.search(SearchRequest(query="housing")).total > 0
    assert budgets and set(budgets) == {3 * 1024 * 1024}
    assert storage._BUDGET.budget == 3 * 1024 * 1024  # long reads are held to it too
    ix.close()
    budgets.clear()
    unbounded = SearchIndex(tmp_path / "ix", mapped_budget_mb=0)
    assert unbounded.search(SearchRequest(query="housing")).total > 0
    assert None in budgets  # after its reads it asks for no bound of its own
    unbounded.close()


def test_read_pickle_from_a_window_reads_each_pickle_and_moves_past_it() -> None:
    small = {"block": list(range(10))}
    large = {"words": ["w%d" % i for i in range(5000)]}  # larger than the first window
    data = pickle.dumps(small, -1) + pickle.dumps(large, -1) + pickle.dumps(7, 2) + b"tail"
    f = MappedSubfile(memoryview(data))
    assert f.read_pickle() == small
    assert f.read_pickle() == large
    assert f.read_pickle() == 7
    assert f.read(4) == b"tail"
    truncated = MappedSubfile(memoryview(pickle.dumps(large, -1)[:-10]))
    with pytest.raises((EOFError, pickle.UnpicklingError)):
        truncated.read_pickle()
