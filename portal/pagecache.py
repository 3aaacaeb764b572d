"""Rendered public pages kept in memory, valid until the catalogue or the index changes.

A publication page costs tens of milliseconds to build (the record with its people,
organisations and files, "more like this" over the index, the citation and the template),
while the page itself only changes when something in the catalogue does. Every change to a
publication commits a journal row in the same transaction, so the journal head names the
catalogue's state; a cached page is used only while the head is unchanged, so a reader never
sees a page older than the catalogue, whichever process made the change. (The view keeps a
page only when the index had applied the journal up to that head, for the related
publications.)

The cache is per process (no shared state between web workers) and bounded in bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class CachedPage:
    """One rendered page and what the view must still do or say when serving it."""

    body: bytes
    publication_id: int
    link: str  # the Signposting `Link` header


class PageCache:
    """A least-recently-used map from a key to a CachedPage, at most `max_bytes` of bodies,
    holding pages of one state (the journal head) at a time.

    Thread-safe. A page larger than a quarter of the budget is not kept.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._state: Hashable = None
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, state: Hashable) -> CachedPage | None:
        """The page cached under `key`, if it was rendered in `state`.

        Seeing a new state drops every page: none of them can be served again.
        """
        with self._lock:
            if state != self._state:
                self._pages.clear()
                self._size = 0
                self._state = state
            page = self._pages.get(key)
            if page is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: Hashable, state: Hashable, page: CachedPage) -> None:
        """Keep `page` under `key` if `state` is still the current one."""
        size = len(page.body)
        if size * 4 > self.max_bytes:
            return
        with self._lock:
            if state != self._state:
                return  # rendered from a state that has since moved on
            old = self._pages.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._pages[key] = page
            self._size += size
            while self._size > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._size -= len(dropped.body)

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size(self) -> int:
        """Bytes of page bodies held."""
        return self._size
