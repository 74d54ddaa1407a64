"""Staff accounts, sign-in and sessions for the console (no web framework here).

Passwords are hashed with argon2id; a session cookie carries a random token of which only the hash
is stored; every session has its own CSRF token. Failed sign-ins are limited per account (locked for
a while after a few) and per client address (stored as a keyed hash, never the address itself).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.handover.models import as_utc, utcnow
from console.models import ROLES, LoginAttempt, StaffAccount, StaffSession
from console.publish import audit
from core.errors import WegweiserError
from knowledge.schema import LANGUAGES

MIN_PASSWORD = 10
SESSION_HOURS = 12
# Per account: this many failures within the window lock it for the window.
ACCOUNT_FAILURES = 5
# Per client address: more failures than this within the window refuse every sign-in from it.
ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
# Who may do what; each role includes the rights of those before it in ROLES.
RIGHTS = {
    "view": "reader",
    "review": "reviewer",  # and only in the reviewer's own languages (admins: all)
    "edit": "editor",
    "admin": "admin",
}


class AuthError(WegweiserError):
    """Sign-in refused or an account operation not allowed; the message is shown to staff."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: str
    languages: tuple[str, ...]
    active: bool

    def may(self, right: str, lang: str | None = None) -> bool:
        if right == "review":
            # Only a native speaker vouches for a translation: reviewers in their own languages, and admins.
            return self.role == "admin" or (self.role == "reviewer" and lang in self.languages)
        return ROLES.index(self.role) >= ROLES.index(RIGHTS[right])

    @classmethod
    def of(cls, a: StaffAccount) -> Account:
        langs = tuple(code for code in a.languages.split(",") if code)
        return cls(a.id, a.username, a.display_name, a.role, langs, a.active)


@dataclass(frozen=True)
class SignedIn:
    account: Account
    csrf: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class StaffAuth:
    def __init__(self, sessions: sessionmaker[Session], address_key: bytes) -> None:
        self.sessions = sessions
        self._address_key = address_key
        self._hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
        # A sign-in for an unknown name costs the same as for a known one (no account probing by timing).
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._setup_token: str | None = None

    # ------------------------------------------------------------------ accounts
    def any_account(self) -> bool:
        with self.sessions() as s:
            return bool(s.scalar(select(func.count()).select_from(StaffAccount)))

    def create_account(self, username: str, display_name: str, password: str, role: str,
                       languages: str = "", actor: str = "system") -> Account:
        username = username.strip().lower()
        if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
            raise AuthError("Benutzername: 1–64 Zeichen, Buchstaben, Ziffern und . _ - @")
        if role not in ROLES:
            raise AuthError(f"Unbekannte Rolle {role!r} ({', '.join(ROLES)})")
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"Das Passwort braucht mindestens {MIN_PASSWORD} Zeichen.")
        langs = [code.strip() for code in languages.split(",") if code.strip()]
        if unknown := [code for code in langs if code not in LANGUAGES]:
            raise AuthError(f"Unbekannte Sprache: {', '.join(unknown)}")
        with self.sessions.begin() as s:
            if s.scalar(select(StaffAccount).where(StaffAccount.username == username)) is not None:
                raise AuthError(f"Den Benutzernamen {username} gibt es schon.")
            account = StaffAccount(username=username, display_name=display_name.strip()[:100] or username,
                                   password_hash=self._hasher.hash(password), role=role, languages=",".join(langs))
            s.add(account)
            s.flush()
            audit(s, actor, "account.create", f"{username} ({role})")
            return Account.of(account)

    def accounts(self) -> list[Account]:
        with self.sessions() as s:
            return [Account.of(a) for a in s.scalars(select(StaffAccount).order_by(StaffAccount.username))]

    def set_active(self, account_id: int, active: bool, actor: str) -> None:
        with self.sessions.begin() as s:
            account = s.get(StaffAccount, account_id)
            if account is None:
                raise AuthError("Konto nicht gefunden.")
            if not active and account.username == actor:
                raise AuthError("Das eigene Konto kann nicht deaktiviert werden.")
            admins = s.scalar(select(func.count()).select_from(StaffAccount).where(
                StaffAccount.role == "admin", StaffAccount.active.is_(True))) or 0
            if not active and account.role == "admin" and account.active and admins <= 1:
                raise AuthError("Das letzte aktive Administratorkonto kann nicht deaktiviert werden.")
            account.active = active
            if not active:
                s.execute(delete(StaffSession).where(StaffSession.account_id == account_id))
            audit(s, actor, "account.activate" if active else "account.deactivate", account.username)

    # ------------------------------------------------------------------ first admin
    def setup_token(self) -> str | None:
        """A one-time link token while no account exists (printed by the run command, like Jupyter's)."""
        if self.any_account():
            return None
        if self._setup_token is None:
            self._setup_token = secrets.token_urlsafe(24)
        return self._setup_token

    def redeem_setup(self, token: str, username: str, display_name: str, password: str) -> Account:
        expected = self._setup_token
        if expected is None or not hmac.compare_digest(token.encode(), expected.encode()) or self.any_account():
            raise AuthError("Dieser Einrichtungslink ist nicht (mehr) gültig.")
        account = self.create_account(username, display_name, password, "admin", actor="setup-link")
        self._setup_token = None
        return account

    # ------------------------------------------------------------------ sign-in
    def _address(self, address: str) -> str:
        return hmac.new(self._address_key, address.encode(), hashlib.sha256).hexdigest()[:32]

    def login(self, username: str, password: str, address: str, now: datetime | None = None) -> tuple[str, SignedIn]:
        """A new session (token for the cookie, and who signed in) or :class:`AuthError`. Unknown names
        are counted and locked like real ones, and every refusal costs one argon2 verification, so the
        answers do not tell which accounts exist."""
        now = now or utcnow()
        username = username.strip().lower()[:64]
        addr = self._address(address)
        with self.sessions.begin() as s:
            since = now - WINDOW
            by_address = s.scalar(select(func.count()).select_from(LoginAttempt).where(
                LoginAttempt.address == addr, LoginAttempt.ok.is_(False), LoginAttempt.at >= since)) or 0
            last_ok = s.scalar(select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.ok.is_(True)))
            if last_ok is not None and as_utc(last_ok) > since:
                since = as_utc(last_ok)  # a successful sign-in starts the count afresh
            failures = s.scalar(select(func.count()).select_from(LoginAttempt).where(
                LoginAttempt.username == username, LoginAttempt.ok.is_(False), LoginAttempt.at > since)) or 0
            account = s.scalar(select(StaffAccount).where(StaffAccount.username == username))
            hashed = account.password_hash if account is not None and account.active else self._dummy
            verified = self._verify(hashed, password)
            refusal = None
            if by_address >= ADDRESS_FAILURES:
                refusal = "Zu viele Fehlversuche von dieser Adresse. Bitte später erneut versuchen."
            elif failures >= ACCOUNT_FAILURES:
                refusal = ("Dieses Konto ist nach mehreren Fehlversuchen vorübergehend gesperrt. "
                           "Bitte in 15 Minuten erneut versuchen.")
            elif not verified or account is None or not account.active:
                refusal = "Benutzername oder Passwort falsch."
                if failures + 1 >= ACCOUNT_FAILURES:
                    audit(s, username, "account.locked", f"after {failures + 1} failed sign-ins")
            if refusal is not None or account is None:
                s.add(LoginAttempt(at=now, username=username, address=addr, ok=False))
                # Commit the attempt, then refuse: the exception must not roll the count back.
                s.commit()
                raise AuthError(refusal or "Benutzername oder Passwort falsch.")
            s.add(LoginAttempt(at=now, username=username, address=addr, ok=True))
            if self._hasher.check_needs_rehash(account.password_hash):
                account.password_hash = self._hasher.hash(password)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            s.add(StaffSession(token_hash=_sha(token), account_id=account.id, csrf=csrf, created_at=now,
                               expires_at=now + timedelta(hours=SESSION_HOURS)))
            audit(s, account.username, "session.login")
            return token, SignedIn(Account.of(account), csrf)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def session(self, token: str | None, now: datetime | None = None) -> SignedIn | None:
        if not token:
            return None
        now = now or utcnow()
        with self.sessions() as s:
            row = s.get(StaffSession, _sha(token))
            if row is None or as_utc(row.expires_at) <= now:
                return None
            account = s.get(StaffAccount, row.account_id)
            if account is None or not account.active:
                return None
            return SignedIn(Account.of(account), row.csrf)

    def logout(self, token: str | None) -> None:
        if token:
            with self.sessions.begin() as s:
                s.execute(delete(StaffSession).where(StaffSession.token_hash == _sha(token)))
