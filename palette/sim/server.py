"""The simulator's HTTP(S) server: an in-process ``ThreadingHTTPServer`` tests start on port 0.

Order of checks for a ``/v1`` request, as Palette's ingress and go-swagger middleware apply them:
latency and injected faults, per-IP rate limit (429), ``ApiKey`` (401), routing (404 / 405 with
``Allow``), query parameters and body against the spec (422 with go-openapi codes, 400 for
unparsable JSON), scope (``ProjectUid`` header, or ``?ProjectUid=`` / ``?projectUid=``), then the
operation. With ``validate=True`` every response is checked against the spec and violations are
collected in ``Simulator.violations``.

Usage::

    with Simulator(hosts=1000, seed=7, tls_dir=tmp) as sim:
        client = PaletteClient(sim.url, sim.api_key, project_uid=sim.project_uids[0], ca_pem=sim.ca_pem)
"""

from __future__ import annotations

import collections
import json
import logging
import secrets
import socket
import ssl
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..ratelimit import DEFAULT_LIMIT, PUBLISHED_LIMITS, TokenBucket, prefix_of
from ..spec import Spec, SpecViolation, load_spec, parameter_problems
from .admin import PREFIX as ADMIN_PREFIX
from .admin import Admin
from .api import Api
from .calls import ApiError, Call, Reply
from .faults import FaultInjector, Faults
from .seeding import seed_inventory
from .state import SimState, Timings, make_registries
from .tls import TLSFiles, ensure_certificates

log = logging.getLogger("palette.sim")

#: Operations that run in tenant scope (ProjectUid is ignored there).
TENANT_SCOPED = {
    "/v1/users/info",
    "/v1/projects/{uid}",
    "/v1/dashboard/projects/metadata",
    "/v1/apiKeys",
    "/v1/apiKeys/{uid}",
    "/v1/activations/system",
    "/v1/registries/metadata",
    "/v1/registries/pack/summary",
}
#: Tenant-scoped operations whose ACL needs a tenant role (palette-sdk-go calls project CRUD "ACL scoped
#: to tenant only"): a key whose user has only project roles gets 403 there. Listing project metadata and
#: the user's own info work for any user; the listing shows only the projects the user has a role in
#: (docs/palette-behaviour.md §2).
TENANT_ROLE_ONLY = {"/v1/projects/{uid}"}
#: Paths outside the subset that real Palette answers with 405 for GET (list endpoints became POST).
POST_ONLY_EXTRA = {"/v1/edgehosts", "/v1/projects"}
#: Operations that only read (a malformed-body fault may garble them without losing a write).
READ_POSTS = {
    "/v1/dashboard/edgehosts/search",
    "/v1/dashboard/clusterprofiles",
    "/v1/spectroclusters/edge-native/validate",
    "/v1/dashboard/spectroclusters/search",
}

# go-openapi validation codes (github.com/go-openapi/errors schema.go).
_GO_CODES = {
    "type": 601,
    "required": 602,
    "maxLength": 603,
    "minLength": 604,
    "pattern": 605,
    "enum": 606,
    "multipleOf": 607,
    "maximum": 608,
    "minimum": 609,
    "uniqueItems": 610,
    "maxItems": 611,
    "minItems": 612,
}


@dataclass
class SeenRequest:
    """One ``/v1`` request as the simulator saw it (for rate and fault assertions)."""

    time: float
    method: str
    path: str
    prefix: str
    status: int
    client: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator, ssl_context: ssl.SSLContext | None):
        self.sim = sim
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so one slow or failing
        # client (e.g. one that rejects our certificate) never blocks accept().
        conn = request
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
        with self.connections_lock:
            self.connections.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ConnectionError, ssl.SSLError, OSError, ValueError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PaletteSimulator/4.8"
    timeout = 20  # idle keep-alive connections are closed after this many seconds
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.sim.dispatch(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the socket was reset on purpose (fault injection) or by the client


class Simulator:
    """A faithful Palette API simulator (see the package docstring for behaviour).

    Arguments: ``hosts`` and ``seed`` (inventory size, deterministic), ``projects`` (how many),
    ``api_key`` (random if None), ``port`` (0 picks a free one), ``tls`` (HTTPS with a self-signed
    CA) and ``tls_dir`` (where ca.crt/server.crt are written; a temp dir if None), ``faults``
    (spec string), ``timings`` (cluster state machine), ``rate_limit`` (429 above the published
    limits), ``rate_burst_seconds`` (bucket depth in seconds of traffic), ``validate`` (check every
    response against the spec), ``license_state`` (a self-hosted Palette's activation: active, pending,
    pending:<N>d, inactive, or saas for none; see ``SimState.set_license``) and ``registries`` (names of
    the tenant's pack registries, see ``state.make_registries``).
    """

    def __init__(
        self,
        *,
        hosts: int = 60,
        seed: int = 1,
        projects: int = 3,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        tls_dir: str | Path | None = None,
        faults: str | None = None,
        timings: Timings | None = None,
        rate_limit: bool = True,
        rate_burst_seconds: float = 5.0,
        validate: bool = False,
        spec: Spec | None = None,
        license_state: str = "Active",
        registries: list[str] | None = None,
    ):
        self.seed = seed
        self.api_key = api_key or "sim-" + secrets.token_urlsafe(24)
        self.state = SimState(
            api_key=self.api_key,
            timings=timings,
            license_state=license_state,
            registries=make_registries(registries) if registries is not None else None,
        )
        seed_inventory(self.state, hosts=hosts, seed=seed, projects=projects)
        self.spec = spec or load_spec()
        self.api = Api(self.state)
        self.admin = Admin(self)
        self.faults = FaultInjector(Faults.parse(faults), seed=seed)
        self.rate_limit = rate_limit
        self.rate_burst_seconds = rate_burst_seconds
        self.validate = validate
        self.violations: list[str] = []
        self._seen: collections.deque[SeenRequest] = collections.deque(maxlen=200_000)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self._bind = (host, port)
        self._tls = tls
        self._tls_dir = Path(tls_dir) if tls_dir else None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.tls_files: TLSFiles | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Start serving in a background thread; returns self."""
        context = None
        if self._tls:
            if self._tls_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="palette-sim-tls-")
                self._tls_dir = Path(self._tmp.name)
            self.tls_files = ensure_certificates(self._tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.tls_files.server_cert, self.tls_files.server_key)
        self._server = _Server(self._bind, self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="palette-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            conns = list(self._server.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._tls_dir = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- what tests and people need ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        assert self._server is not None, "start() the simulator first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:45678``."""
        return f"{'https' if self._tls else 'http'}://{self._bind[0]}:{self.port}"

    @property
    def ca_path(self) -> str | None:
        """Path of the CA certificate (PEM) clients should trust, when serving HTTPS."""
        return str(self.tls_files.ca_cert) if self.tls_files else None

    @property
    def ca_pem(self) -> str | None:
        """The CA certificate as PEM text (what a tlsSecretRef Secret's ca.crt holds)."""
        return self.tls_files.ca_pem if self.tls_files else None

    @property
    def project_uids(self) -> list[str]:
        """Project uids in creation order (the first is "Default", with most hosts)."""
        return list(self.state.projects)

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault injection spec (None or "" clears it)."""
        self.faults.set(Faults.parse(spec))

    def fail_next_create(
        self, status: int = 500, code: str = "InternalError", message: str = "", stage: str = ""
    ) -> None:
        """Make the next cluster create fail: with an HTTP error, ``stage="provisioning"`` (created, never
        gets past Provisioning) or ``stage="answer"`` (created, then the connection drops before the
        answer)."""
        with self.state.lock:
            self.state.fail_next_create = (
                {"stage": stage}
                if stage
                else {
                    "status": status,
                    "code": code,
                    "message": message or "failed to create the cluster (simulated)",
                }
            )

    def seen(self, prefix: str | None = None) -> list[SeenRequest]:
        """Requests served so far (optionally only one rate-limit prefix, e.g. ``/v1/dashboard``)."""
        with self._lock:
            return [r for r in self._seen if prefix is None or r.prefix == prefix]

    def stats(self) -> dict[str, Any]:
        """Counts by status and prefix."""
        by_status: dict[str, int] = collections.Counter()
        by_prefix: dict[str, int] = collections.Counter()
        for r in self.seen():
            by_status[str(r.status)] += 1
            by_prefix[r.prefix] += 1
        return {
            "requests": sum(by_status.values()),
            "byStatus": dict(by_status),
            "byPrefix": dict(by_prefix),
            "violations": len(self.violations),
        }

    # -- request handling -------------------------------------------------------------------

    def dispatch(self, h: _Handler) -> None:
        """Answer one request on handler ``h``."""
        parts = urlsplit(h.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        if path.startswith(ADMIN_PREFIX):
            self._admin(h, path, raw)
            return
        client = h.client_address[0]
        prefix = prefix_of(path)
        template = ""
        try:
            delay = self.faults.latency()
            if delay:
                time.sleep(delay)
            fault = self.faults.draw()
            if fault == "reset":
                self._record(h.command, path, prefix, 0, client)
                self._reset(h)
                return
            if fault is not None:
                headers = {"Retry-After": "1"} if fault == 503 else {}
                raise ApiError(
                    int(fault),
                    "InjectedFault" if fault != 429 else "TooManyRequests",
                    f"simulated HTTP {fault}",
                    headers,
                )
            self._rate_limit(client, prefix)
            self._authenticate(h)
            reply, template = self._route(h.command, path, query, raw, h)
        except ApiError as exc:
            reply = Reply(status=exc.status, body=exc.body(), headers=exc.headers)
        except Exception as exc:  # a simulator bug must not kill the connection thread silently
            log.exception("simulator error on %s %s", h.command, path)
            reply = Reply(
                status=500,
                body={
                    "code": "InternalError",
                    "message": f"simulator error: {exc}",
                    "ref": secrets.token_hex(32),
                },
            )
        if self.validate and template:
            self._check_response(h.command, template, reply)
        if (
            template
            and reply.status < 400
            and (reply.lost or (h.command != "GET" and template not in READ_POSTS and self.faults.lost()))
        ):
            # The work is done, the answer never arrives: the client cannot tell whether it was.
            self._record(h.command, path, prefix, 0, client)
            self._reset(h)
            return
        body = self._encode(reply)
        if (
            reply.status == 200
            and template
            and (h.command == "GET" or template in READ_POSTS)
            and reply.content_type == "application/json"
            and self.faults.malformed()
        ):
            body = body[: max(1, len(body) // 3)]
        self._record(h.command, path, prefix, reply.status, client)
        self._send(h, reply, body)

    def _route(
        self, method: str, path: str, query: dict[str, str], raw: bytes, h: _Handler
    ) -> tuple[Reply, str]:
        found = self.spec.find(method, path)
        if found is None:
            allowed = self.spec.allowed_methods(path) or (
                ["POST"] if path.rstrip("/") in POST_ONLY_EXTRA else []
            )
            if allowed:
                raise ApiError(
                    405,
                    405,
                    f"method {method} is not allowed, but [{','.join(allowed)}] are",
                    {"Allow": ",".join(allowed)},
                )
            raise ApiError(404, 404, f"path {path} was not found")
        op, params = found
        declared = op.query_parameters()
        for name, value in query.items():
            if name in declared:
                problems = parameter_problems(declared[name], value)
                if problems:
                    raise self._param_error(name, declared[name], value)
        body = None
        if op.body_schema is not None and raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, 400, f'parsing body body from "" failed, because {exc}') from None
            errors = list(self.spec.validator(op.body_schema).iter_errors(body))
            if errors:
                raise self._body_error(min(errors, key=lambda e: len(e.absolute_path)))
        project_uid = None
        policy = self.state.keys[h.headers.get("ApiKey")]
        read_only = policy.read_only
        if op.template in policy.forbidden:
            raise ApiError(
                403, "Forbidden", f"Permission denied: the user's roles do not allow {method} {op.template}"
            )
        if op.template in TENANT_ROLE_ONLY and policy.projects is not None:
            raise ApiError(
                403,
                "Forbidden",
                "Permission denied: the user has only project roles; this operation needs a tenant role",
            )
        if op.template not in TENANT_SCOPED:
            project_uid = (
                h.headers.get("ProjectUid") or query.get("ProjectUid") or query.get("projectUid") or None
            )
            if project_uid is not None:
                if project_uid not in self.state.projects:
                    raise ApiError(404, "ResourceNotFound", f"Project '{project_uid}' not found")
                if policy.projects is not None and project_uid not in policy.projects:
                    raise ApiError(
                        403,
                        "Forbidden",
                        f"Permission denied: the user has no role in project "
                        f"'{self.state.projects[project_uid].name}'",
                    )
        call = Call(
            method=method,
            path=path,
            template=op.template,
            params=params,
            query=query,
            body=body,
            project_uid=project_uid,
            read_only=read_only,
            key_projects=policy.projects,
        )
        return self.api.handle(call), op.template

    @staticmethod
    def _param_error(name: str, param: dict, value: str) -> ApiError:
        kind = param.get("type")
        if kind in ("integer", "boolean"):
            try:
                number = int(value) if kind == "integer" else None
            except ValueError:
                number = None
            if number is None and not (kind == "boolean" and value.lower() in ("true", "false")):
                return ApiError(422, 601, f'{name} in query must be of type {kind}: "{value}"')
            if number is not None and "maximum" in param and number > param["maximum"]:
                return ApiError(
                    422, 608, f"{name} in query should be less than or equal to {param['maximum']}"
                )
            if number is not None and "minimum" in param and number < param["minimum"]:
                return ApiError(
                    422, 609, f"{name} in query should be greater than or equal to {param['minimum']}"
                )
        return ApiError(422, 606, f"{name} in query should be one of {param.get('enum')}")

    @staticmethod
    def _body_error(error: Any) -> ApiError:
        where = ".".join(str(p) for p in error.absolute_path)
        code = _GO_CODES.get(error.validator, 422)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "property"
            name = f"{where}.{missing}" if where else missing
            return ApiError(422, code, f"{name} in body is required")
        name = where or "body"
        if error.validator == "type":
            value = json.dumps(error.instance)[:60]
            return ApiError(422, code, f"{name} in body must be of type {error.validator_value}: {value}")
        if error.validator == "enum":
            return ApiError(422, code, f"{name} in body should be one of {error.validator_value}")
        if error.validator == "uniqueItems":
            return ApiError(422, code, f"{name} in body shouldn't contain duplicates")
        return ApiError(422, code, f"{name} in body is invalid: {error.message}")

    def _authenticate(self, h: _Handler) -> None:
        key = h.headers.get("ApiKey")  # header names are case-insensitive here, as on Palette
        if not key:
            raise ApiError(401, "Unauthorized", "Authorization header or ApiKey header is required")
        if key not in self.state.keys or not self.state.keys[key].usable():
            # Palette has echoed the presented key back in auth errors; clients must redact it.
            raise ApiError(401, "ResourceNotFound", f"ApiKey '{key}' not found or expired")

    def _rate_limit(self, client: str, prefix: str) -> None:
        if not self.rate_limit:
            return
        key = (client, prefix)
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                rate = PUBLISHED_LIMITS.get(prefix, DEFAULT_LIMIT)
                bucket = self._buckets.setdefault(
                    key, TokenBucket(rate, capacity=rate * self.rate_burst_seconds)
                )
        taken, _ = bucket.try_take()
        if not taken:
            # Palette's docs say only "retry after a few moments": no Retry-After header is documented
            # (librarium api-docs/1-introduction.md, Rate Limits; docs/palette-behaviour.md §7), and
            # palette-sdk-go api/apiutil/retry/retry.go ignores it. A client must back off on its own.
            raise ApiError(
                429, "TooManyRequests", f"Too many requests on {prefix}; retry after a few moments"
            )

    def _check_response(self, method: str, template: str, reply: Reply) -> None:
        try:
            self.spec.validate_response(method, template, reply.status, reply.body)
        except SpecViolation as exc:
            with self._lock:
                self.violations.append(str(exc))
            log.error("simulator response outside the spec: %s", exc)

    def _admin(self, h: _Handler, path: str, raw: bytes) -> None:
        try:
            if h.headers.get("ApiKey") != self.api_key:
                raise ApiError(401, "Unauthorized", "the admin endpoint needs the simulator's primary ApiKey")
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise ApiError(400, 400, "body is not JSON") from None
            reply = self.admin.handle(h.command, path, body)
        except ApiError as exc:
            reply = Reply(status=exc.status, body=exc.body(), headers=exc.headers)
        self._send(h, reply, self._encode(reply))

    # -- low level --------------------------------------------------------------------------

    def _record(self, method: str, path: str, prefix: str, status: int, client: str) -> None:
        with self._lock:
            self._seen.append(SeenRequest(time.monotonic(), method, path, prefix, status, client))

    @staticmethod
    def _encode(reply: Reply) -> bytes:
        if reply.status == 204 or reply.body is None:
            return b""
        if isinstance(reply.body, (bytes, str)):
            return reply.body.encode() if isinstance(reply.body, str) else reply.body
        return json.dumps(reply.body, separators=(",", ":")).encode()

    @staticmethod
    def _send(h: _Handler, reply: Reply, body: bytes) -> None:
        h.send_response(reply.status)
        if reply.status != 204:
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            h.send_header(name, value)
        h.end_headers()
        if body and h.command != "HEAD":
            h.wfile.write(body)

    @staticmethod
    def _reset(h: _Handler) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP RST: the client sees
        # "connection reset by peer" mid-request, with no HTTP answer at all.
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
        except OSError:
            pass
