"""Who is signed in: the session cookie, CSRF tokens, and a trusted proxy's user header.

The session cookie holds the person's name, their account's session version and a
random session nonce, signed (``itsdangerous``, HMAC-SHA1 over a key derived from the
hub's master key for ``"console-session"``) and timed: it expires after
``HUB_CONSOLE__SESSION_HOURS``. It is HttpOnly and SameSite=Lax, and Secure whenever
the request came over HTTPS (directly, or as a trusted proxy says) or
``HUB_PUBLIC_URL`` is an https URL. Nothing but the signature is trusted: every
request reads the account again, so a removed person or a changed password or role
takes effect at the next click.

Every form carries a CSRF token: an HMAC of the session nonce (or, on the sign-in
form, of a nonce in its own short-lived cookie), checked on every POST. htmx sends
the same token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from hub.settings import HubSettings
from hub.web.accounts import Account, AccountStore, Role

__all__ = ["SESSION_COOKIE", "Principal", "SessionManager"]

SESSION_COOKIE = "hub_session"
LOGIN_COOKIE = "hub_login"
FLASH_COOKIE = "hub_flash"
#: the sign-in form's nonce lives this long (a person takes a while to find their password)
LOGIN_NONCE_SECONDS = 3600


@dataclass(frozen=True)
class Principal:
    """The person behind a request and the CSRF token of their session."""

    name: str
    role: Role
    csrf: str
    #: "session" (signed in here) or "proxy" (named by a trusted reverse proxy)
    via: str

    @property
    def actor(self) -> str:
        """How the audit log names them, like the CLI's confirmations."""
        return f"user:{self.name}"

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


class SessionManager:
    """Signs and reads session, sign-in and flash cookies for one console."""

    def __init__(self, key: bytes, settings: HubSettings, accounts: AccountStore) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="hub-console-session")
        self._csrf_key = hmac.new(key, b"csrf", hashlib.sha256).digest()
        self.settings = settings
        self.console = settings.console
        self.accounts = accounts
        self.max_age = int(self.console.session_hours * 3600)
        self._proxies = [ipaddress.ip_network(p, strict=False) for p in self.console.trusted_proxies]

    # -- CSRF -------------------------------------------------------------------------

    def csrf_for(self, nonce: str) -> str:
        return hmac.new(self._csrf_key, nonce.encode("utf-8"), hashlib.sha256).hexdigest()

    @staticmethod
    def csrf_matches(expected: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(expected, str(given))

    # -- who is asking ----------------------------------------------------------------

    def principal(self, request: Request) -> Principal | None:
        """The signed-in person, from a trusted proxy's header or the session cookie."""
        proxied = self._proxy_user(request)
        if proxied is not None:
            return proxied
        data = self._load(request.cookies.get(SESSION_COOKIE), self.max_age)
        if not isinstance(data, dict):
            return None
        account = self.accounts.get(str(data.get("u", "")))
        if account is None or account.session_version != data.get("v"):
            return None
        return Principal(account.name, account.role, self.csrf_for(str(data.get("n", ""))), "session")

    def _proxy_user(self, request: Request) -> Principal | None:
        header = self.console.proxy_user_header
        if not header or not self.from_trusted_proxy(request):
            return None
        name = (request.headers.get(header) or "").strip()
        if not name:
            return None
        account = self.accounts.get(name)
        if account is None:
            return None
        # Behind the proxy there is no session of ours: the CSRF token is bound to the
        # person and their session version, so it changes when they are signed out.
        return Principal(account.name, account.role, self.csrf_for(f"proxy:{name}:{account.session_version}"), "proxy")

    def from_trusted_proxy(self, request: Request) -> bool:
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def client_address(self, request: Request) -> str:
        """The address a sign-in came from (a trusted proxy's X-Forwarded-For, else the peer)."""
        if self.from_trusted_proxy(request):
            forwarded = request.headers.get("x-forwarded-for", "")
            first = forwarded.split(",")[0].strip()
            if first:
                return first[:64]
        return request.client.host if request.client else "unknown"

    # -- cookies ----------------------------------------------------------------------

    def secure(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        if self.from_trusted_proxy(request) and request.headers.get("x-forwarded-proto", "") == "https":
            return True
        return (self.settings.public_url or "").startswith("https://")

    def _set(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="lax", secure=self.secure(request), path="/"
        )

    def _load(self, token: str | None, max_age: int) -> Any:
        if not token:
            return None
        try:
            return self._serializer.loads(token, max_age=max_age)
        except BadSignature:  # also SignatureExpired
            return None

    def sign_in(self, response: Response, request: Request, account: Account) -> None:
        """A new session (a new nonce: a session id planted before sign-in is never reused)."""
        data = {"u": account.name, "v": account.session_version, "n": secrets.token_urlsafe(16)}
        self._set(response, request, SESSION_COOKIE, self._serializer.dumps(data), self.max_age)
        response.delete_cookie(LOGIN_COOKIE, path="/")

    @staticmethod
    def sign_out(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def login_nonce(self, request: Request) -> tuple[str, str | None]:
        """The sign-in form's nonce (from its cookie, else a new one) and the cookie to set, if new."""
        data = self._load(request.cookies.get(LOGIN_COOKIE), LOGIN_NONCE_SECONDS)
        if isinstance(data, dict) and isinstance(data.get("n"), str):
            return data["n"], None
        nonce = secrets.token_urlsafe(16)
        return nonce, self._serializer.dumps({"n": nonce})

    def set_login_cookie(self, response: Response, request: Request, value: str) -> None:
        self._set(response, request, LOGIN_COOKIE, value, LOGIN_NONCE_SECONDS)

    def login_csrf_ok(self, request: Request, given: str | None) -> bool:
        data = self._load(request.cookies.get(LOGIN_COOKIE), LOGIN_NONCE_SECONDS)
        if not isinstance(data, dict) or not isinstance(data.get("n"), str):
            return False
        return self.csrf_matches(self.csrf_for(data["n"]), given)

    def flash(self, response: Response, request: Request, message: str, kind: str = "ok") -> None:
        """A one-line message shown once on the next page (after a redirect)."""
        self._set(response, request, FLASH_COOKIE, self._serializer.dumps({"m": message[:500], "k": kind}), 120)

    def take_flash(self, request: Request) -> dict[str, str] | None:
        data = self._load(request.cookies.get(FLASH_COOKIE), 120)
        if isinstance(data, dict) and isinstance(data.get("m"), str):
            return {"message": data["m"], "kind": str(data.get("k", "ok"))}
        return None
