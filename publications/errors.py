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
