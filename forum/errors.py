"""Domain errors raised by services and translated at each edge (HTTP, socket)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `code` is the socket error code, `status` the HTTP status."""

    code = "invalid"
    status = 400

    def __init__(self, message: str = "", *, field: str | None = None, **details: object):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_dict(self) -> dict[str, object]:
        """The error as the `error` object of a socket acknowledgement or JSON body."""
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        out.update(self.details)
        return out


class Invalid(DomainError):
    """The input is not acceptable."""

    code = "invalid"
    status = 400


class AuthRequired(DomainError):
    """The action needs a logged-in user."""

    code = "auth_required"
    status = 401


class Forbidden(DomainError):
    """The user may not do this."""

    code = "forbidden"
    status = 403


class NotFound(DomainError):
    """The object does not exist or is not visible to the user."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request conflicts with the current state (e.g. duplicate)."""

    code = "conflict"
    status = 409


class Locked(DomainError):
    """The thread is locked or archived."""

    code = "locked"
    status = 423


class Muted(DomainError):
    """The user is muted here."""

    code = "muted"
    status = 403


class SyncExpired(DomainError):
    """A `changed_since` from before a change of what the reader may read: the changes
    since then do not bring the reader's copy up to date; walk the whole list again."""

    code = "resync"
    status = 410


class RateLimited(DomainError):
    """Too many attempts in a short time."""

    code = "rate_limited"
    status = 429


def is_out_of_range(exc: BaseException) -> bool:
    """A number too large for its database column (an id beyond 2^31 on PostgreSQL, 2^63 on
    SQLite): the edges answer `invalid` / 404 for it, never `internal` / 500."""
    if isinstance(exc, OverflowError):
        return True
    from sqlalchemy.exc import DataError, StatementError

    if isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError):
        return True
    return isinstance(exc, DataError) and getattr(exc.orig, "sqlstate", None) == "22003"


def database_busy(err: BaseException) -> bool:
    """The database is there but could not take the request in time; try again: SQLite's
    "database is locked" once the busy timeout is spent (another writer, a `flask` command
    or another process, held the lock), or every connection of the process's pool in use
    for the pool's timeout (slow queries, a database that stopped answering)."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(err, PoolTimeout):
        return True
    return isinstance(err, OperationalError) and "database is locked" in str(err.orig)


def busy_reason(err: BaseException) -> str:
    """What a busy database's log line says (database_busy(err))."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(err, PoolTimeout):
        return "every database connection is in use (the pool's timeout passed)"
    return f"SQLite's write lock held too long ({getattr(err, 'orig', err)})"


def database_unreachable(err: BaseException) -> bool:
    """True for errors meaning the database is down or unreachable (not a bad query)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated or isinstance(err, InterfaceError):
        return True
    # SQLite's "database is locked" is an OperationalError too, but the database is there.
    return isinstance(err, OperationalError) and "locked" not in str(err.orig).lower()
