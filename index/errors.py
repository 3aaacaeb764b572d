"""Exceptions the index raises to its callers."""


class IndexUnavailable(Exception):
    """The index cannot be opened or read right now (the web layer answers 503)."""


class IndexBusy(IndexUnavailable):
    """The single-writer lock could not be obtained within the retry deadline."""
