"""The HTTP layer of the Palette client: one ``requests.Session`` per client, TLS, timeouts,
retries with backoff, rate limiting, error mapping and the request log hook.

Retries: only transient failures (see ``palette.errors``), with exponential backoff, full-ish
jitter and a cap, honouring ``Retry-After`` when Palette sends one. A request that is not safe to
repeat (cluster create) is retried only when it certainly was not processed: a 429, or a
connection that never got established.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import errors
from .addresses import AddressRefused
from .connections import GuardedAdapter
from .ratelimit import Budget, BudgetExhausted, default_limiter
from .spec import Spec, SpecViolation, load_spec

log = logging.getLogger("palette.client")

#: Header names whose values never leave this module unmasked (compared case-insensitively).
SECRET_HEADERS = frozenset({"apikey", "authorization", "cookie"})

#: Largest response body read from Palette. Real answers are far smaller: a page of 50 edge hosts with
#: their hardware is tens of KiB in the simulator and stays under ~2 MiB with the biggest real inventories
#: (many disks, NICs and GPUs each); a cluster profile with all its packs' values is a few MiB. 32 MiB is
#: ten times that, and still bounds what one answer (its decoded JSON a few times the size) costs a
#: worker: above it the request fails as ResponseTooLarge instead of growing to a MemoryError.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_warned_insecure: set[str] = set()
_warned_lock = threading.Lock()


def normalize_base_url(host: str) -> str:
    """``api.spectrocloud.com`` or ``https://x:8443/`` -> ``https://host[:port]`` (https by default)."""
    host = (host or "").strip()
    if not host:
        raise ValueError("A Palette host is required (e.g. api.spectrocloud.com).")
    if "://" not in host:
        host = "https://" + host
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"Not a Palette host URL: {host!r}.")
    # Palette's API lives at the root; a path (e.g. copied from the console) is dropped.
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class RetryPolicy:
    """How transient failures are retried.

    ``attempts`` counts the first try. The n-th retry waits about ``base * 2**(n-1)`` seconds
    (jittered between half and all of it), at most ``cap``; a ``Retry-After`` from Palette wins if
    longer, up to ``retry_after_cap``.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 60.0

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        backoff = min(self.cap, self.base * (2 ** (retry - 1)))
        backoff *= (rng or random).uniform(0.5, 1.0)
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.retry_after_cap))
        return backoff


@dataclass
class RequestRecord:
    """What the ``request_log`` hook receives for every attempt (secrets masked)."""

    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    status: int | None = None
    elapsed: float = 0.0
    attempt: int = 1
    error: str = ""


class Transport:
    """Sends requests to one Palette host and turns every failure into a ``PaletteError``."""

    def __init__(
        self,
        host: str,
        api_key: str,
        *,
        ca_pem: str | None = None,
        skip_verify: bool = False,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        rate_limiter: Budget | bool | None = True,
        lane: str = "interactive",
        max_wait: float | Callable[[], float | None] | None = None,
        rate_limits: Mapping[str, float] | None = None,
        request_log: Callable[[RequestRecord], None] | None = None,
        validate: bool = False,
        name: str = "",
        spec: Spec | None = None,
        pool_size: int = 10,
        allowed_networks: list[str] | tuple[str, ...] | None = None,
    ):
        if not api_key:
            raise ValueError("An API key is required.")
        self.base_url = normalize_base_url(host)
        self.name = name or self.base_url
        self._api_key = api_key
        self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.retry = retry or RetryPolicy()
        if rate_limiter is True or rate_limiter is None:
            self.limiter: Budget | None = default_limiter()
        else:
            self.limiter = rate_limiter or None
        # How this client draws on the budget (palette.ratelimit): its lane, how long one request may wait
        # for a slot (seconds, or asked per request), and its integration's own limits over the budget's.
        self.lane = lane
        self.max_wait = max_wait
        self.rate_limits = rate_limits
        self.request_log = request_log
        self.validate = validate
        self.spec = spec or load_spec()
        self._rng = random.Random()
        self._tmpdir: str | None = None

        self.session = requests.Session()
        if allowed_networks is None:
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        else:
            # Every connection resolves, checks (palette.addresses) and connects to a checked address.
            adapter = GuardedAdapter(
                allowed_networks, pool_connections=2, pool_maxsize=pool_size, max_retries=0
            )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        agent = f"paletteai-admin-palette-client/1 {requests.utils.default_user_agent()}"
        self.session.headers.update({"ApiKey": api_key, "Accept": "application/json", "User-Agent": agent})
        # Proxies from the environment are honoured, but never ~/.netrc: a no-op auth stops requests
        # from adding an Authorization header of its own.
        self.session.auth = _no_auth
        if skip_verify:
            self.verify: bool | str = False
            self._warn_insecure()
        elif ca_pem:
            self.verify = self._write_ca_bundle(ca_pem)
        else:
            self.verify = True
        self.session.verify = self.verify
        self._finalizer = weakref.finalize(self, _cleanup, self.session, self._tmpdir)

    # -- setup helpers ----------------------------------------------------------------------

    def _write_ca_bundle(self, ca_pem: str) -> str:
        if "-----BEGIN CERTIFICATE-----" not in ca_pem:
            raise ValueError(
                "The custom CA is not a PEM certificate (expected '-----BEGIN CERTIFICATE-----')."
            )
        # A private directory (0700) and file (0600): the bundle is not secret, but nobody else
        # on the machine should be able to swap it for their own CA.
        self._tmpdir = tempfile.mkdtemp(prefix="palette-ca-")
        path = os.path.join(self._tmpdir, "ca.crt")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(ca_pem.strip() + "\n")
        return path

    def _warn_insecure(self) -> None:
        with _warned_lock:
            if self.name in _warned_insecure:
                return
            _warned_insecure.add(self.name)
        log.warning(
            "TLS certificate verification is disabled for Palette integration %s (%s) "
            "(skipSSLCertificateVerification). Use a CA certificate instead outside tests.",
            self.name,
            self.base_url,
        )

    def close(self) -> None:
        """Close the session and remove the temporary CA bundle."""
        self._finalizer()

    @property
    def ca_bundle(self) -> str | None:
        """Path of the private CA bundle file, if a custom CA was given."""
        return self.verify if isinstance(self.verify, str) else None

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        template: str,
        project_uid: str | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
        expect: str = "json",
    ) -> Any:
        """Send one logical request (with retries) and return the decoded body.

        ``template`` is the spec path template (for validation); ``project_uid`` adds the
        ``ProjectUid`` header (project-scoped calls only); ``expect`` is ``json``, ``text`` or
        ``none`` (no body, e.g. 204).
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if self.validate or body is not None:
            try:
                self.spec.validate_request(method, template, body, params)
            except SpecViolation as exc:
                raise errors.BadRequest(
                    f"The request {method} {path} for {self.base_url} was not sent: {exc}",
                    hint="This is a bug in the caller; the body must match Palette's API spec.",
                    **self._where(method, path),
                ) from None
        headers = {"ProjectUid": project_uid} if project_uid else {}
        if expect == "text":
            headers["Accept"] = "application/octet-stream"  # the spec's "produces" for file downloads
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, url, path, template, headers, params, body, expect, attempt)
            except errors.PaletteError as exc:
                if not self._should_retry(exc, attempt, idempotent):
                    raise
                delay = self.retry.delay(attempt, getattr(exc, "retry_after", None), self._rng)
                log.info(
                    "Palette %s %s %s failed (%s); retry %d in %.2fs",
                    self.base_url,
                    method,
                    path,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                time.sleep(delay)

    def _should_retry(self, exc: errors.PaletteError, attempt: int, idempotent: bool) -> bool:
        if not exc.transient or attempt >= self.retry.attempts or isinstance(exc, errors.PaletteBusy):
            return False
        if idempotent:
            return True
        # Not safe to repeat: only when Palette certainly did not process it.
        return isinstance(exc, errors.RateLimited) or getattr(exc, "before_send", False)

    def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        template: str,
        headers: dict[str, str],
        params: dict[str, Any],
        body: Any,
        expect: str,
        attempt: int,
    ) -> Any:
        if self.limiter is not None:
            self._acquire(method, path)
        record = self._record(method, path, params, headers, body, attempt) if self.request_log else None
        started = time.monotonic()
        try:
            # verify is passed on every call: requests lets REQUESTS_CA_BUNDLE override the session's
            # setting otherwise, which would silently replace a custom CA or skip flag.
            # stream=True: the body is read below, bounded by MAX_RESPONSE_BYTES, instead of whole by
            # requests.
            resp = self.session.request(
                method,
                url,
                params=params or None,
                json=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                verify=self.verify,
                stream=True,
            )
            complete = _read_bounded(resp)
        except AddressRefused as exc:
            # Raised in the connection step, before anything was sent: permanent, nothing to retry.
            raise errors.PaletteAddressRefused(str(exc), hint="", **self._where(method, path)) from None
        except requests.exceptions.RequestException as exc:
            self._observe(path, "error")
            error = self._connection_error(exc, method, path)
            if record is not None:
                record.error, record.elapsed = type(error).__name__, time.monotonic() - started
                self.request_log(record)
            raise error from None
        if record is not None:
            record.status, record.elapsed = resp.status_code, time.monotonic() - started
            record.error = "" if complete else errors.ResponseTooLarge.__name__
            self.request_log(record)
        self._observe(path, resp.status_code)
        where = self._where(method, path, status=resp.status_code)
        if not complete:
            raise errors.ResponseTooLarge(
                f"{self.base_url} answered {method} {path} with more than {MAX_RESPONSE_BYTES // 2**20} MiB "
                f"({resp.status_code}); the rest was not read.",
                **where,
            )
        if resp.status_code >= 400:
            error = errors.error_from_response(
                body=resp.content,
                reason=resp.reason or "",
                headers=resp.headers,
                secrets=(self._api_key,),
                **where,
            )
            if isinstance(error, errors.RateLimited) and self.limiter is not None:
                self.limiter.slow_down(self.base_url, path, error.retry_after)
            raise error
        if 300 <= resp.status_code < 400:
            # Where to is not said: the Location may carry the key (a server echoing it in a query).
            raise errors.PaletteHTTPError(
                f"{self.base_url} redirected {method} {path} elsewhere ({resp.status_code}).",
                hint="Use the API host itself (e.g. api.spectrocloud.com), not the console URL.",
                **where,
            )
        return self._decode(resp, method, path, template, expect)

    def _decode(self, resp: requests.Response, method: str, path: str, template: str, expect: str) -> Any:
        if expect == "none":
            return None
        if expect == "text":
            return resp.content.decode("utf-8", "replace")
        try:
            # Decoded as requests' resp.json() would, keeping the text for the bidi test below.
            guessed = None if resp.encoding else requests.utils.guess_json_utf(resp.content)
            text = resp.content.decode(guessed, "replace") if guessed else resp.text
            data = json.loads(text)
        except ValueError:
            snippet = errors.shorten(errors.redact(resp.content, (self._api_key,)), 120)
            raise errors.PaletteProtocolError(
                f"{self.base_url} answered {method} {path} with a body that is not valid JSON "
                f"({resp.status_code}, starts with {snippet!r}).",
                **self._where(method, path, status=resp.status_code),
            ) from None
        if errors.may_hold_controls(text):
            data = errors.visible_controls(data)
        if self.validate:
            try:
                self.spec.validate_response(method, template, resp.status_code, data)
            except SpecViolation as exc:
                raise errors.PaletteProtocolError(
                    f"{self.base_url} answered {method} {path} with a body outside the API spec: "
                    f"{errors.redact(str(exc), (self._api_key,))}",
                    hint="Palette's version may differ from the spec this client targets.",
                    **self._where(method, path, status=resp.status_code),
                ) from None
        return data

    def _acquire(self, method: str, path: str) -> None:
        """Wait for this request's slot in the rate budget; PaletteBusy when it is further than allowed."""
        try:
            self.limiter.acquire(
                self.base_url, path, lane=self.lane, max_wait=self.max_wait, limits=self.rate_limits
            )
        except BudgetExhausted as exc:
            retry_in = max(1, int(exc.retry_in + 0.999))
            raise errors.PaletteBusy(
                f"Palette is busy: {method} {path} was not sent because this console's request budget for "
                f"{exc.family} on {self.base_url} is booked for the next {retry_in} s. "
                f"Try again in {retry_in} s.",
                retry_after=retry_in,
                hint="",
                **self._where(method, path),
            ) from None

    def _observe(self, path: str, status: int | str) -> None:
        if self.limiter is not None:
            self.limiter.observe(self.base_url, path, status)

    def _where(self, method: str, path: str, **more: Any) -> dict[str, Any]:
        """The keywords that say where an error happened: host, method, path and `more` (e.g. status)."""
        return dict(host=self.base_url, method=method, path=path, **more)

    def _connection_error(
        self, exc: requests.exceptions.RequestException, method: str, path: str
    ) -> errors.PaletteError:
        where = self._where(method, path)
        if isinstance(exc, requests.exceptions.SSLError):
            reason = _ssl_reason(exc)
            return errors.PaletteTLSError(
                f"The TLS certificate of {self.base_url} could not be verified: {reason}.", **where
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return errors.PaletteTimeout(
                f"Connecting to {self.base_url} timed out after {self.timeout[0]:g}s.",
                before_send=True,
                **where,
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return errors.PaletteTimeout(
                f"{self.base_url} did not answer {method} {path} within {self.timeout[1]:g}s.", **where
            )
        before_send = _never_connected(exc)
        text = errors.redact(str(exc), (self._api_key,))
        what = "could not be reached" if before_send else "closed the connection"
        return errors.PaletteConnectionError(
            f"{self.base_url} {what} during {method} {path} ({errors.shorten(text, 160)}).",
            before_send=before_send,
            **where,
        )

    def _record(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str], body: Any, attempt: int
    ) -> RequestRecord:
        merged = {**self.session.headers, **headers}
        if body is not None:
            merged["Content-Type"] = "application/json"
        masked = {k: ("[REDACTED]" if k.lower() in SECRET_HEADERS else str(v)) for k, v in merged.items()}
        return RequestRecord(
            method=method,
            path=path,
            query=dict(params),
            headers=masked,
            body=errors.redact(body, (self._api_key,)),
            attempt=attempt,
        )


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _cleanup(session: requests.Session, tmpdir: str | None) -> None:
    session.close()
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _never_connected(exc: BaseException) -> bool:
    """True if the cause chain shows the TCP connection was never established (refused, DNS)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)):
            return True
        nxt = getattr(cur, "reason", None)  # urllib3's MaxRetryError keeps the cause in .reason
        if not isinstance(nxt, BaseException):
            nxt = cur.args[0] if cur.args and isinstance(cur.args[0], BaseException) else cur.__cause__
        cur = nxt
    return False


_VERIFY_REASON = re.compile(r"certificate verify failed: ([^(')]+)")


def _ssl_reason(exc: BaseException) -> str:
    m = _VERIFY_REASON.search(str(exc))
    return f"certificate verify failed: {m.group(1).strip()}" if m else errors.shorten(str(exc), 160)


def _read_bounded(resp: requests.Response) -> bool:
    """Read ``resp``'s (decompressed) body into ``resp.content``; False, connection dropped, above the
    bound."""
    declared = resp.headers.get("Content-Length", "")
    chunks: list[bytes] = []
    size = 0
    try:
        if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            return False
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                return False
            chunks.append(chunk)
    finally:
        resp.close()  # read to the end, the connection goes back to the pool; stopped early, it is closed
    resp._content = b"".join(chunks)  # where requests keeps a body it read itself (stream=False)
    return True
