"""Staff accounts: who may sign in, with which role, and how failed sign-ins are held back.

Passwords are hashed with argon2. Failed attempts are counted in the database (not in a
process), so throttling and lockout hold across web workers and restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from publications.catalogue import Catalogue
from publications.errors import PortalError
from publications.models import AuditEvent, Base, utcnow

ROLES = ("editor", "admin")
MIN_PASSWORD = 10
# After this many failures in a row each further attempt must wait, doubling each time...
SLOW_AFTER = 3
# ...and after this many the account is locked for LOCK_FOR.
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong
    password and response times do not reveal which accounts exist. Made on first use: an
    argon2 hash costs a noticeable fraction of a second, which every `portal` command (not
    only those that sign people in) would otherwise pay at start-up."""
    return _hasher.hash("not a real password, only spends the same time")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="editor")
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Bumped when the password is reset or the account disabled: older sessions end.
    session_epoch: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccountError(PortalError):
    """An account cannot be created or changed as asked (the message says why)."""


class SignInRefused(PortalError):
    """A sign-in attempt was refused; the message is safe to show (it names no account)."""


@dataclass(frozen=True)
class Account:
    """What the web face needs to know about a signed-in person."""

    id: int
    email: str
    role: str
    active: bool
    session_epoch: int
    locked_until: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _account(u: User) -> Account:
    return Account(u.id, u.email, u.role, u.active, u.session_epoch, u.locked_until,
                   u.last_login_at)


def normalise_email(email: str) -> str:
    email = " ".join(email.split()).lower()
    if "@" not in email or len(email) > 320 or " " in email:
        raise AccountError(f"{email[:80]!r} is not an email address")
    return email


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")


class Accounts:
    """Creates, lists and changes staff accounts; checks sign-ins. `clock` is for tests."""

    def __init__(self, catalogue: Catalogue, clock: Callable[[], datetime] = utcnow) -> None:
        self.catalogue = catalogue
        self.clock = clock
        _dummy_hash()  # made before any sign-in is timed

    def add(self, email: str, role: str, password: str, actor: str = "system") -> Account:
        email = normalise_email(email)
        if role not in ROLES:
            raise AccountError(f"role must be one of: {', '.join(ROLES)}")
        check_password_strength(password)
        with self.catalogue.session() as session:
            if session.scalar(select(User).where(User.email == email)) is not None:
                raise AccountError(f"there is already an account for {email}")
            user = User(email=email, role=role, password_hash=_hasher.hash(password))
            session.add(user)
            session.flush()
            _audit(session, actor, "user-add", {"email": email, "role": role})
            return _account(user)

    def list(self) -> list[Account]:
        with self.catalogue.reading() as session:
            return [_account(u) for u in session.scalars(select(User).order_by(User.email))]

    def get(self, user_id: int) -> Account | None:
        with self.catalogue.reading() as session:
            user = session.get(User, user_id)
            return _account(user) if user is not None else None

    def disable(self, email: str, actor: str = "system") -> Account:
        with self.catalogue.session() as session:
            user = self._find(session, email)
            user.active = False
            user.session_epoch += 1
            _audit(session, actor, "user-disable", {"email": user.email})
            return _account(user)

    def enable(self, email: str, actor: str = "system") -> Account:
        with self.catalogue.session() as session:
            user = self._find(session, email)
            user.active = True
            user.failed_logins, user.locked_until = 0, None
            _audit(session, actor, "user-enable", {"email": user.email})
            return _account(user)

    def reset_password(self, email: str, password: str, actor: str = "system") -> Account:
        """Set a new password, clear any lockout and end the account's existing sessions."""
        check_password_strength(password)
        with self.catalogue.session() as session:
            user = self._find(session, email)
            user.password_hash = _hasher.hash(password)
            user.failed_logins, user.locked_until = 0, None
            user.session_epoch += 1
            _audit(session, actor, "user-reset-password", {"email": user.email})
            return _account(user)

    def authenticate(self, email: str, password: str) -> Account:
        """The account when email and password match; raises SignInRefused otherwise.

        Counts failures per account: after SLOW_AFTER failures the next attempt must wait
        (2, 4, 8... seconds), after LOCK_AFTER the account is locked for LOCK_FOR. While an
        account waits or is locked even the right password is refused. Every failure is
        written to the audit log.
        """
        now = self.clock()
        try:
            email = normalise_email(email)
        except AccountError:
            email = email.strip().lower()[:320]
        # The failure is counted and audited in a transaction that commits; the refusal
        # is raised only after it, so a rollback cannot undo the count.
        with self.catalogue.session() as session:
            outcome = self._attempt(session, email, password, now)
        if isinstance(outcome, str):
            raise SignInRefused(outcome)
        return outcome

    @staticmethod
    def _attempt(session: Session, email: str, password: str, now: datetime) -> Account | str:
        """The account, or the message saying why the attempt is refused."""
        wrong = "The email or password is not right."
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            _verify(_dummy_hash(), password)
            _audit(session, email or "(blank)", "login-failed", {"reason": "unknown account"})
            return wrong
        if user.locked_until is not None and user.locked_until > now:
            _audit(session, email, "login-failed", {"reason": "locked"})
            return _locked_message(user.locked_until, now)
        wait = _wait_needed(user, now)
        if wait > 0:
            _audit(session, email, "login-failed", {"reason": "too soon"})
            return f"Too many failed attempts. Please wait {wait} seconds and try again."
        if not _verify(user.password_hash, password) or not user.active:
            user.failed_logins += 1
            user.last_failed_at = now
            details: dict[str, object] = {
                "reason": "wrong password" if user.active else "disabled",
                "failures": user.failed_logins,
            }
            if user.failed_logins >= LOCK_AFTER:
                user.locked_until = now + LOCK_FOR
                user.failed_logins = 0
                details["locked_until"] = user.locked_until.isoformat(timespec="seconds")
            _audit(session, email, "login-failed", details)
            if user.locked_until is not None and user.locked_until > now:
                return _locked_message(user.locked_until, now)
            return wrong
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed_logins, user.locked_until, user.last_failed_at = 0, None, None
        user.last_login_at = now
        _audit(session, email, "login", {})
        return _account(user)

    def end_sessions(self, user_id: int) -> None:
        """End every open session of an account (signing out also invalidates copies of the
        session cookie, which is otherwise valid until it expires)."""
        with self.catalogue.session() as session:
            user = session.get(User, user_id)
            if user is not None:
                user.session_epoch += 1

    def count(self) -> int:
        with self.catalogue.reading() as session:
            return int(session.scalar(select(func.count(User.id))) or 0)

    @staticmethod
    def _find(session: Session, email: str) -> User:
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            raise AccountError(f"there is no account for {email}")
        return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _wait_needed(user: User, now: datetime) -> int:
    """Seconds still to wait before this account may try again (0 when it may)."""
    if user.failed_logins < SLOW_AFTER or user.last_failed_at is None:
        return 0
    delay = timedelta(seconds=2 ** (user.failed_logins - SLOW_AFTER + 1))
    left = (user.last_failed_at + delay - now).total_seconds()
    return max(0, int(left + 0.999))


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() // 60) + 1)
    return (f"This account is locked after too many failed attempts. Try again in {minutes} "
            "minutes, or ask an administrator to reset the password.")


def _audit(session: Session, actor: str, action: str, details: dict[str, object]) -> None:
    session.add(AuditEvent(actor=actor, action=action, publication_id=None, details=details))
