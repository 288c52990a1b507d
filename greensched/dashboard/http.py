"""The little HTTP the dashboard needs on top of WSGI: :class:`Request` (the path, the query,
a form, headers, cookies) and :class:`Response`, and :class:`HTTPError` for an answer other
than 200."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

__all__ = ("MAX_FORM", "HTTPError", "Request", "Response", "json_response", "url_quote")

#: The largest form body read (bytes); a larger one is refused
MAX_FORM = 64 * 1024

#: Headers on every answer: no sniffing, no framing, no scripts, no other origins
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    (
        "Content-Security-Policy",
        (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'"
        ),
    ),
    ("Cache-Control", "no-store"),
)


class HTTPError(Exception):
    """An answer other than 200: its status and a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def url_quote(text: str) -> str:
    """``text`` as one path segment of a URL (a job id: ``/`` too is quoted)."""
    return quote(text, safe="")


@dataclass
class Response:
    """An answer: status, headers and body."""

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def start(self, start_response: Any) -> Iterable[bytes]:
        """Send it through a WSGI ``start_response``; return the body iterable."""
        phrase = HTTPStatus(self.status).phrase
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        start_response(f"{self.status} {phrase}", headers)
        return [self.body]


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` as a JSON answer."""
    body = json.dumps(value, indent=1, default=str).encode("utf-8")
    return Response(body, status, "application/json")


class Request:
    """A WSGI request, as the dashboard reads it.

    :ivar method: ``GET``, ``POST``...
    :ivar base: where the dashboard is mounted (``SCRIPT_NAME``), without a trailing ``/``
    :ivar path: the path below it (``/jobs/x``), decoded
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.base = _text(environ.get("SCRIPT_NAME", "")).rstrip("/")
        self.path = _text(environ.get("PATH_INFO", "")) or "/"
        self.query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        self._form: dict[str, list[str]] | None = None

    def arg(self, name: str, default: str = "") -> str:
        """The query parameter ``name`` (its first value)."""
        return self.query.get(name, [default])[0]

    def int_arg(self, name: str, default: int, low: int = 1, high: int | None = None) -> int:
        """The query parameter ``name`` as an int from ``low`` to ``high``.

        :raises HTTPError: (400) naming the bad value
        """
        text = self.arg(name, str(default))
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" to {high}"
            raise HTTPError(400, f"{name} must be an integer from {low}{upper}, got: {text!r}")
        return value

    def header(self, name: str) -> str | None:
        """The request header ``name`` (``Authorization``), or ``None``."""
        key = "HTTP_" + name.upper().replace("-", "_")
        if key == "HTTP_CONTENT_TYPE":
            key = "CONTENT_TYPE"
        value = self.environ.get(key)
        return None if value is None else str(value)

    def cookie(self, name: str) -> str | None:
        """The cookie ``name``, or ``None``."""
        cookies = SimpleCookie()
        try:
            cookies.load(self.header("Cookie") or "")
        except Exception:  # noqa: BLE001 (a malformed cookie header: no cookies)
            return None
        morsel = cookies.get(name)
        return None if morsel is None else morsel.value

    def form(self) -> dict[str, list[str]]:
        """The fields of a posted form (``application/x-www-form-urlencoded``).

        :raises HTTPError: (413) if the body is larger than :data:`MAX_FORM`
        """
        if self._form is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_FORM:
                raise HTTPError(413, f"the form is larger than {MAX_FORM} bytes")
            body = self.environ["wsgi.input"].read(length) if length > 0 else b""
            self._form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    def field(self, name: str) -> str:
        """The posted form field ``name`` (``''`` if missing)."""
        return self.form().get(name, [""])[0]

    def url(self, path: str) -> str:
        """An absolute path of the dashboard (``/jobs/x`` under where it is mounted)."""
        return self.base + path


def _text(value: Any) -> str:
    """A WSGI path (bytes as latin-1 code points) as the UTF-8 text it was."""
    text = str(value)
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
