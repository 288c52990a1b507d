"""Who may change jobs through the dashboard: :class:`Guard`.

Without a token the dashboard is read-only: every action is refused (403). With a token:

- a JSON action needs ``Authorization: Bearer <token>``;
- a form action needs the session cookie that ``/login`` sets once given the token (a value
  derived from the token by HMAC, not the token: ``HttpOnly``, ``SameSite=Strict``) and the
  form's CSRF field (another HMAC-derived value, which only pages served to a logged-in
  browser carry);
- every POST whose ``Origin`` (else ``Referer``) header names another host than the request's
  own is refused.

Tokens and derived values are compared with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from greensched.dashboard.http import HTTPError, Request

__all__ = ("COOKIE", "CSRF_FIELD", "TOKEN_ENV", "Guard")

#: The environment variable ``greensched run`` reads the dashboard's token from
TOKEN_ENV = "GREENSCHED_DASHBOARD_TOKEN"
#: The session cookie's name
COOKIE = "greensched_dashboard"
#: The CSRF field of the dashboard's forms
CSRF_FIELD = "csrf"

READ_ONLY = (
    "the dashboard is read-only: start it with a token (greensched run --dashboard-token, "
    f"or ${TOKEN_ENV}; Dashboard(scheduler, token=...)) to allow actions"
)


class Guard:
    """Checks the requests that change jobs (see the module docstring).

    :param token: the secret that allows actions (``None``: read-only)
    :raises ValueError: if ``token`` is empty or not a string
    """

    def __init__(self, token: str | None) -> None:
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError(f"token must be a non-empty string or None, got: {token!r}")
        self._token = token

    @property
    def read_only(self) -> bool:
        """Whether actions are refused (no token)."""
        return self._token is None

    def _derive(self, purpose: str) -> str:
        assert self._token is not None
        key = self._token.encode("utf-8")
        return hmac.new(
            key, f"greensched-dashboard:{purpose}".encode(), hashlib.sha256
        ).hexdigest()

    def session(self) -> str:
        """The session cookie's value."""
        return self._derive("session")

    def csrf(self) -> str:
        """The CSRF field's value of the forms served to a logged-in browser."""
        return self._derive("csrf")

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the token."""
        return self._token is not None and hmac.compare_digest(
            given.encode("utf-8"), self._token.encode("utf-8")
        )

    def logged_in(self, request: Request) -> bool:
        """Whether the request carries the session cookie."""
        cookie = request.cookie(COOKIE)
        return (
            self._token is not None
            and cookie is not None
            and hmac.compare_digest(cookie.encode("utf-8"), self.session().encode("utf-8"))
        )

    def check_origin(self, request: Request) -> None:
        """Refuse (403) a POST whose ``Origin``, else ``Referer``, names another host."""
        origin = request.header("Origin")
        source = origin if origin is not None else request.header("Referer")
        if source is None:
            return
        host = request.header("Host") or (
            f"{request.environ.get('SERVER_NAME')}:{request.environ.get('SERVER_PORT')}"
        )
        if source == "null" or urlsplit(source).netloc.lower() != host.lower():
            raise HTTPError(403, f"cross-origin request refused: {source!r} is not {host!r}")

    def check_api(self, request: Request) -> None:
        """Allow a JSON action, or raise :class:`HTTPError` (403, 401) saying why not."""
        self.check_origin(request)
        if self._token is None:
            raise HTTPError(403, READ_ONLY)
        scheme, _, given = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not self.token_matches(given.strip()):
            raise HTTPError(401, "actions need the header Authorization: Bearer <token>")

    def check_form(self, request: Request) -> None:
        """Allow a form action, or raise :class:`HTTPError` (403, 401) saying why not."""
        self.check_origin(request)
        if self._token is None:
            raise HTTPError(403, READ_ONLY)
        if not self.logged_in(request):
            raise HTTPError(401, "log in with the dashboard's token first (/login)")
        given = request.field(CSRF_FIELD)
        if not hmac.compare_digest(given.encode("utf-8"), self.csrf().encode("utf-8")):
            raise HTTPError(403, "the form's CSRF token is missing or wrong: reload the page")
