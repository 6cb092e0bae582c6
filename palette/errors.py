"""One error hierarchy for everything that goes wrong talking to Palette.

Permanent versus transient is decided here, once, as the ``transient`` attribute of each class:
the client retries exactly the transient ones (connection errors and resets, timeouts, 429,
502/503/504 and every other 5xx, a garbled success body; a create only when Palette certainly did
not process it) and background tasks use the same attribute. Permanent: 400/422, 401, 403, 404,
405, 409 and other 4xx, redirects, TLS verification failures, refused addresses, answers too large,
pagination loops (docs/palette-behaviour.md §4).

Every message says what happened, names the Palette host, and says what to do. No message,
attribute or ``repr`` contains the API key: Palette sometimes echoes the key back in an error
body, so bodies are redacted when the error is built (``redact``), before anything is shortened.
Palette's text is also bounded (``MAX_MESSAGE_CHARS``) and its bidi controls made visible
(``visible_controls``) wherever it enters an error, so neither a 3 MB message nor a U+202E reaches a page.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

#: Palette's own text (message, code, ref) in an error is cut to this many characters: enough for
#: any real message, and a 3 MB one no longer makes every page that shows the error 3 MB.
MAX_MESSAGE_CHARS = 500
#: Our summary of the failure, which may quote a spec violation about Palette's body.
MAX_SUMMARY_CHARS = 1000

#: Unicode's bidirectional controls (Trojan Source, CVE-2021-42574): they reorder the text around
#: them on screen, so a host name could display as another. Made visible as ``[U+202E]`` rather than
#: dropped, so an admin sees that Palette's value holds one (and that it differs from how it looks).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_VISIBLE = {ord(c): f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS}
#: How those controls can look in JSON text: literally (non-ASCII text) or escaped (``\u202e``).
_JSON_ESCAPES = ("\\u20", "\\u06")


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every occurrence of each secret in strings, dicts and lists (recursively).

    Also the forms in which a server may echo it: URL-encoded, and base64 (standard or URL-safe) at
    any position in a longer base64 text (e.g. an echoed ``Authorization`` header).
    """
    needles = sorted(
        {form for secret in secrets if secret for form in _secret_forms(secret)}, key=len, reverse=True
    )
    if not needles:
        return value
    return _redact(value, needles)


@functools.lru_cache(maxsize=32)
def _secret_forms(secret: str) -> frozenset[str]:
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    raw = secret.encode()
    for offset in range(3):
        # Inside a longer base64 text the secret starts at any byte offset modulo 3; the characters
        # that also carry a neighbouring byte differ per text, so only the ones that are the
        # secret's alone are searched (at most two characters of the secret stay unredacted per side).
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[(0, 2, 3)[offset] : (offset + len(raw)) * 8 // 6]
        if len(core) >= 8:  # shorter fragments would redact unrelated text
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return frozenset(forms)


def _redact(value: Any, needles: list[str]) -> Any:
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, bytes):
        return _redact(value.decode("utf-8", "replace"), needles)
    if isinstance(value, Mapping):
        return {_redact(k, needles): _redact(v, needles) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, needles) for v in value]
    return value


def visible_controls(value: Any) -> Any:
    """Replace bidi control characters with a visible ``[U+XXXX]`` in strings, dicts and lists (recursively).

    The one mechanism for Palette's text: applied to every decoded response body (transport) and to
    every part of an error (``PaletteError``). Other values are returned unchanged.
    """
    if isinstance(value, str):
        return value if value.isascii() else value.translate(_VISIBLE)
    if isinstance(value, dict):
        return {visible_controls(k): visible_controls(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible_controls(v) for v in value]
    return value


def may_hold_controls(json_text: str) -> bool:
    """Cheap test whether a JSON text can hold a bidi control (literal or escaped) before it is decoded.

    Walking a decoded listing costs twice its decoding; this substring test costs a few percent.
    """
    if any(escape in json_text for escape in _JSON_ESCAPES):
        return True
    return not json_text.isascii() and any(c in json_text for c in BIDI_CONTROLS)


def shorten(text: str, limit: int) -> str:
    """``text`` with whitespace runs collapsed, cut to ``limit`` characters (ending in "…" when cut).

    Redact before shortening: a secret crossing the cut would otherwise survive as its start.
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PaletteError(Exception):
    """Base of all Palette client errors.

    Attributes: ``host`` (the Palette base URL), ``method`` and ``path`` of the request (if any),
    ``status`` (HTTP status or None), ``code`` (Palette's code: str for application errors, int
    for framework errors, or None), ``palette_message``, ``ref`` and ``details`` from the error
    body, ``hint`` (what to do), and ``transient`` (whether retrying later may succeed).
    """

    transient = False
    default_hint = "Check the Palette integration settings and try again."

    def __init__(
        self,
        summary: str,
        *,
        host: str = "",
        method: str = "",
        path: str = "",
        status: int | None = None,
        code: str | int | None = None,
        palette_message: str = "",
        ref: str = "",
        details: Any = None,
        hint: str | None = None,
    ):
        # Every error passes here, whatever built it: Palette's parts bounded and their bidi controls made
        # visible once (the callers redact secrets before, so no cut can split a key).
        self.summary = visible_controls(shorten(summary, MAX_SUMMARY_CHARS))
        self.host = host
        self.method = method
        self.path = path
        self.status = status
        self.code = visible_controls(shorten(code, MAX_MESSAGE_CHARS)) if isinstance(code, str) else code
        self.palette_message = visible_controls(shorten(palette_message, MAX_MESSAGE_CHARS))
        self.ref = visible_controls(shorten(ref, MAX_MESSAGE_CHARS))
        self.details = visible_controls(details)
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = self.summary
        if self.palette_message and self.palette_message not in text:
            text += f" Palette said: {self.palette_message}"
        if self.code not in (None, "") and str(self.code) not in text:
            text += f" (code {self.code})"
        if self.ref:
            text += f" [ref {self.ref}]"
        if self.hint:
            text += f" {self.hint}"
        return text

    @property
    def message(self) -> str:
        """The full, redacted, human-readable message."""
        return str(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, host={self.host!r})"


# -- failures without an HTTP response ------------------------------------------------------


class PaletteConnectionError(PaletteError):
    """Palette could not be reached, or the connection broke (refused, DNS, reset)."""

    transient = True
    default_hint = (
        "Check the host URL, DNS, proxy and firewall between this server and Palette; it will be retried."
    )

    def __init__(self, summary: str, *, before_send: bool = False, **kwargs: Any):
        #: True when the request certainly never reached Palette (safe to retry anything).
        self.before_send = before_send
        super().__init__(summary, **kwargs)


class PaletteTimeout(PaletteConnectionError):
    """Palette did not connect or answer within the configured timeout."""

    default_hint = "Palette may be overloaded or the network slow; it will be retried."


class PaletteBusy(PaletteError):
    """Not sent: this installation's request budget for Palette (palette.ratelimit) is booked further ahead
    than the caller may wait (a web request, a database transaction). ``retry_after`` in seconds.

    Transient (a task tries again later), but never retried by the transport itself: that would be the
    wait the bound forbids.
    """

    transient = True
    default_hint = "Other work of this console is using Palette's rate limit right now; try again shortly."

    def __init__(self, summary: str, *, retry_after: float, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(summary, **kwargs)


class PaletteTLSError(PaletteError):
    """The server's TLS certificate could not be verified. Never retried, never bypassed."""

    default_hint = (
        "If Palette uses a private CA, add its CA certificate to the integration "
        "(tlsSecretRef, key ca.crt); only on a test system, set "
        "skipSSLCertificateVerification."
    )


class PaletteAddressRefused(PaletteError):
    """The host is, or now resolves to, an address the client must not connect to (loopback, link-local,
    cloud metadata, private unless allowed: ``palette.addresses``). Refused before connecting; permanent."""

    default_hint = (
        "Point the integration at Palette's public address; for an on-premises Palette on a "
        "private network, allow its network with PALETTE_ALLOWED_NETWORKS."
    )


class PaletteProtocolError(PaletteError):
    """Palette answered, but the body could not be understood (not JSON, truncated)."""

    transient = True
    default_hint = "A proxy or load balancer in between may be rewriting responses; it will be retried."


class ResponseTooLarge(PaletteProtocolError):
    """Palette's answer exceeded the client's size bound; reading stopped there. Not retried: it would
    recur."""

    transient = False
    default_hint = (
        "Palette's answers are far smaller; a proxy or a wrong host URL may be sending something "
        "else. Check the host URL, or report it with the request named here."
    )


class PaginationError(PaletteError):
    """Palette returned a ``listmeta.continue`` token it had already returned (a loop)."""

    default_hint = (
        "Palette's pagination is looping; the listing was stopped instead of "
        "repeating forever. Report it to Spectro Cloud support with the ref if any."
    )


# -- HTTP errors ----------------------------------------------------------------------------


class PaletteHTTPError(PaletteError):
    """Palette answered with an error status."""


class BadRequest(PaletteHTTPError):
    """400 or 422: Palette rejected the request as invalid. Fix the request, do not retry."""

    default_hint = "Correct the request (see Palette's message) and try again."


class AuthenticationFailed(PaletteHTTPError):
    """401: the API key is missing, invalid, expired or revoked."""

    default_hint = "Create a new key in Palette under Profile > My API Keys and update the integration."


class PermissionDenied(PaletteHTTPError):
    """403: the key is valid but its user may not do this (here)."""

    default_hint = (
        "Ask a Palette tenant admin to grant the API key's user a role in this project "
        "(or tenant), or use a key of a user who has one."
    )


class NotFound(PaletteHTTPError):
    """404 (or code ResourceNotFound): the object, or one it depends on, does not exist here."""

    default_hint = (
        "Check the UID, and that the integration's project (defaultProjectID, a 24-hex "
        "UID, not a name) is the project that owns it."
    )


class MethodNotAllowed(PaletteHTTPError):
    """405: this Palette version does not offer the operation with that method."""

    default_hint = (
        "This Palette version may have changed the API (e.g. 4.10 removed GET list "
        "endpoints); upgrade PaletteAI Admin or report it."
    )


class Conflict(PaletteHTTPError):
    """409: the object exists already or is in a state that forbids the change."""

    default_hint = "Refresh the object's state in Palette and retry the change if it still applies."


class _RetryAfterError(PaletteHTTPError):
    """A transient error whose answer may say when to retry: ``retry_after`` in seconds if sent."""

    transient = True

    def __init__(self, summary: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(summary, **kwargs)


class RateLimited(_RetryAfterError):
    """429: Palette's per-IP rate limit was exceeded. ``retry_after`` in seconds if sent."""

    default_hint = "Too many requests from this server; it will be retried after a pause."


class ServerError(PaletteHTTPError):
    """500 and other 5xx that are not gateway errors: Palette failed handling the request.

    Transient, as docs/palette-behaviour.md §4 counts every 5xx: reads are retried; a create is not
    repeated by the transport (it may have been processed) — the provisioning step looks the cluster up
    by name first.
    """

    transient = True
    default_hint = (
        "Palette failed internally; reads are retried. If it keeps failing, "
        "contact Spectro Cloud support with the ref."
    )


class ServiceUnavailable(_RetryAfterError):
    """502, 503, 504: Palette or a gateway in front of it is temporarily unavailable."""

    default_hint = "Palette or its gateway is temporarily unavailable; it will be retried."


_BY_STATUS: dict[int, type[PaletteHTTPError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    422: BadRequest,
    429: RateLimited,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}

_SUMMARIES: dict[type[PaletteHTTPError], str] = {
    AuthenticationFailed: "The API key was rejected by {host} ({status}).",
    PermissionDenied: "{host} refused {what} for this API key ({status}).",
    NotFound: "{host} has no such object for {what} ({status}).",
    MethodNotAllowed: "{host} does not allow {what} ({status}).",
    BadRequest: "{host} rejected {what} as invalid ({status}).",
    Conflict: "{host} refused {what} because of a conflict ({status}).",
    RateLimited: "{host} is rate-limiting {what} ({status}).",
    ServerError: "{host} failed while handling {what} ({status}).",
    ServiceUnavailable: "{host} is temporarily unavailable for {what} ({status}).",
    PaletteHTTPError: "{host} answered {what} with HTTP {status}.",
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_error_body(body: bytes | str | None, status: int, reason: str = "") -> dict[str, Any]:
    """Palette's ``{code, message, ref, details}`` from an error body, tolerant of anything.

    ``code`` may be a string (application errors) or an integer (go-swagger framework errors).
    A body that is not a JSON object becomes ``{code: <reason>, message: <start of the text>}``,
    like the Go SDK's fallback.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("code")
        if not isinstance(code, (str, int)) or isinstance(code, bool):
            code = None if code is None else str(code)
        message = data.get("message")
        return {
            "code": code,
            "message": message if isinstance(message, str) else ("" if message is None else str(message)),
            "ref": data.get("ref") if isinstance(data.get("ref"), str) else "",
            "details": data.get("details"),
        }
    return {"code": reason or None, "message": shorten(text, 200), "ref": "", "details": None}


def error_from_response(
    *,
    host: str,
    method: str,
    path: str,
    status: int,
    body: bytes | str | None,
    reason: str = "",
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> PaletteHTTPError:
    """Build the right PaletteHTTPError for an HTTP error response, with secrets redacted."""
    secrets = tuple(secrets)
    # The raw text first (a body that is not JSON is shortened when parsed, and a key crossing the cut
    # would keep its start), then the parsed values (JSON may escape a key's characters, e.g. "\/").
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    parsed = redact(parse_error_body(redact(text, secrets), status, reason), secrets)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else PaletteHTTPError
    # Palette reports some missing objects with code ResourceNotFound on another status.
    if parsed["code"] == "ResourceNotFound" and cls in (PaletteHTTPError, BadRequest):
        cls = NotFound
    what = f"{method.upper()} {path}"
    summary = _SUMMARIES.get(cls, _SUMMARIES[PaletteHTTPError]).format(host=host, status=status, what=what)
    kwargs: dict[str, Any] = dict(
        host=host,
        method=method.upper(),
        path=path,
        status=status,
        code=parsed["code"],
        palette_message=parsed["message"],
        ref=parsed["ref"],
        details=parsed["details"],
    )
    if cls is MethodNotAllowed and headers and headers.get("Allow"):
        kwargs["hint"] = f"Palette allows {headers['Allow']} there. " + MethodNotAllowed.default_hint
    if issubclass(cls, _RetryAfterError):
        kwargs["retry_after"] = parse_retry_after((headers or {}).get("Retry-After"))
    return cls(summary, **kwargs)
