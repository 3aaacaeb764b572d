"""Errors a user can cause, each with a reason a person understands."""


class PortalError(Exception):
    """Base of the domain's errors; `str(error)` is the message shown to people."""


class IngestError(PortalError):
    """A file could not be taken in; the message says why in plain words."""


class NotFound(PortalError):
    """No publication has that id or slug."""


class InvalidRecord(PortalError):
    """A metadata record is missing something it needs or has a value that cannot be used."""


class ConflictError(PortalError):
    """Someone else changed the record since it was read."""


class StorageError(PortalError):
    """The data home refused a write (disk full, read-only, file too large); nothing
    half-written was kept."""


# errno values that mean "the disk would not take the write", not "the code is wrong"
_WRITE_ERRNOS = {28: "no space left on the device", 30: "the data home is read-only",
                 27: "a file would be larger than allowed", 122: "the disk quota is used up",
                 5: "the disk reported an input/output error", 13: "permission denied"}
_SQLITE_HINTS = {"database or disk is full": "no space left on the device",
                 "attempt to write a readonly database": "the data home is read-only",
                 "disk i/o error": "the disk reported an input/output error",
                 "unable to open database file": "the catalogue database cannot be opened"}


def write_failure(exc: BaseException) -> str | None:
    """A person-readable reason when `exc` is the disk refusing a write (full, read-only,
    file too large, I/O error) in the file store, the index or the catalogue; None for any
    other exception (a bug, which deserves its traceback in the log)."""
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return _WRITE_ERRNOS[exc.errno]
    text = str(getattr(exc, "orig", "") or "").lower()
    if type(exc).__name__ == "OperationalError":
        for hint, reason in _SQLITE_HINTS.items():
            if hint in text:
                return reason
    return None
