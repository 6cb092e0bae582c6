"""A fake Kubernetes API server for core/v1 Secrets (and Namespaces), for the official `kubernetes` client.

No real kube-apiserver can run on the test machines (machine-notes §4), so tests point the real
client at this loopback HTTP server instead. It keeps state in memory and behaves like the
apiserver for what PaletteAI Admin calls:

- ``POST /api/v1/namespaces/{ns}/secrets``: 201 with ``uid``, ``resourceVersion``,
  ``creationTimestamp``; ``stringData`` merged into base64 ``data``; 409 ``AlreadyExists`` for a
  duplicate; 404 ``namespaces "ns" not found`` when namespaces are modelled and ``ns`` is unknown.
- ``GET .../secrets/{name}``: the object or 404 ``NotFound``.
- ``GET .../secrets`` and ``GET /api/v1/secrets``: lists, with ``labelSelector``
  (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, comma-separated).
- ``PUT .../secrets/{name}``: full replace; a ``resourceVersion`` that is not the current one
  gives 409 ``Conflict``; none means an unconditional update; an unchanged object keeps its
  resourceVersion (as the apiserver does).
- ``PATCH .../secrets/{name}``: JSON merge semantics for ``application/merge-patch+json`` and
  ``application/strategic-merge-patch+json`` (the client sends the latter for dict bodies; for a
  Secret's maps the two are the same); a ``resourceVersion`` in the patch is a precondition.
  JSON Patch and server-side apply answer 415, which the real server would not: we do not use them.
- ``DELETE .../secrets/{name}``: 200 with a ``Status`` of ``Success``; ``preconditions``
  (``uid``, ``resourceVersion``) in the DeleteOptions body are checked (409 when they do not hold).
- ``GET /api/v1/namespaces/{ns}`` (and the list, and POST to create one).

Bodies are JSON. kubernetes 37.0.1 sends POST and PUT without a Content-Type header; the
apiserver then uses its first serializer (JSON), and so does the fake.

Validation the apiserver would do and that catches client bugs: name is a DNS-1123 subdomain,
``data`` keys match ``[-._a-zA-Z0-9]+``, ``data`` values are base64 (400 otherwise), label keys and
values are valid, the name and namespace in the body match the URL, ``type`` and immutable Secrets
cannot change, total data at most 1 MiB.

Every error is a ``Status`` object (``kind``, ``apiVersion``, ``status: Failure``, ``reason``,
``code``, ``message``, ``details``) so that ``ApiException.status`` and ``.body`` are what the
client sees from a real cluster.

Test hooks: ``fail_next()`` makes the next N matching requests fail (with any status, or by
dropping the connection); ``requests`` is the log of every request received; ``put_secret()``,
``get_secret()`` and ``modify_secret()`` seed, inspect and change state out of band (as another
controller or a person with kubectl would).

Usage::

    with FakeKube() as kube:            # or kube = FakeKube().start(); ...; kube.stop()
        cfg = kubernetes.client.Configuration(); cfg.host = kube.url
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
MAX_SECRET_BYTES = 1024 * 1024
MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")

SECRETS_ALL = re.compile(r"^/api/v1/secrets$")
SECRETS_NS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets$")
SECRET_ONE = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")
NAMESPACES = re.compile(r"^/api/v1/namespaces$")
NAMESPACE_ONE = re.compile(r"^/api/v1/namespaces/([^/]+)$")


class ApiError(Exception):
    """An error the fake answers as a Kubernetes ``Status`` object."""

    def __init__(self, code: int, message: str, *, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


@dataclass
class KubeRequest:
    """One request as the fake received it (the body parsed as JSON when it is JSON)."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Fail the next `remaining` requests that match `method` and `path_contains` (None matches any)."""

    remaining: int
    status: int = 500
    method: str | None = None
    path_contains: str | None = None
    drop_connection: bool = False
    message: str = ""
    reason: str | None = None
    retry_after: int | None = None
    hits: int = field(default=0)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and (self.path_contains is None or self.path_contains in path)
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f'{kind} "{name}" not found', details={"name": name, "kind": kind})


def _invalid(name: str, causes: list[tuple[str, str]]) -> ApiError:
    message = f'Secret "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes)
    return ApiError(
        422,
        message,
        details={
            "name": name,
            "kind": "Secret",
            "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        },
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def parse_label_selector(selector: str) -> list[tuple[str, str, str | None]]:
    """Parse the equality-based label selector syntax into (op, key, value) requirements."""
    requirements: list[tuple[str, str, str | None]] = []
    for raw in filter(None, (part.strip() for part in selector.split(","))):
        if "!=" in raw:
            key, value = (s.strip() for s in raw.split("!=", 1))
            requirements.append(("!=", key, value))
        elif "==" in raw or "=" in raw:
            key, value = (s.strip() for s in re.split(r"==?", raw, maxsplit=1))
            requirements.append(("=", key, value))
        elif raw.startswith("!"):
            requirements.append(("!", raw[1:].strip(), None))
        elif re.fullmatch(r"[-A-Za-z0-9_./]+", raw):
            requirements.append(("exists", raw, None))
        else:
            # Set-based selectors ("in", "notin") are real Kubernetes syntax we do not need.
            raise ApiError(
                400, f"unable to parse requirement: {raw!r} (the fake supports equality-based selectors only)"
            )
    return requirements


def selector_matches(labels: dict[str, str], requirements: list[tuple[str, str, str | None]]) -> bool:
    for op, key, value in requirements:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


class FakeKube:
    """In-memory core/v1 Secrets API on 127.0.0.1 (a free port), served from a daemon thread.

    `namespaces=None` (the default) lets every namespace exist, which is what most tests want;
    pass a list to model namespaces, and creating a Secret elsewhere answers 404 as the apiserver does.
    """

    def __init__(self, namespaces: Iterable[str] | None = None):
        self._lock = threading.RLock()
        self._secrets: dict[tuple[str, str], dict] = {}
        self._namespaces: dict[str, dict] | None = None
        self._rv = itertools.count(1000)
        self._faults: list[Fault] = []
        self._log: list[KubeRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if namespaces is not None:
            self._namespaces = {}
            for ns in namespaces:
                self.add_namespace(ns)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeKube:
        fake = self

        class Handler(_Handler):
            kube = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kube", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeKube is not started: call start() first.")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test hooks --------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        drop_connection: bool = False,
        message: str = "",
        reason: str | None = None,
        retry_after: int | None = None,
    ) -> Fault:
        """Make the next `count` matching requests fail with `status` (or a dropped connection)."""
        fault = Fault(
            count,
            status,
            method.upper() if method else None,
            path_contains,
            drop_connection,
            message or f"fake: injected {status}",
            reason,
            retry_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[KubeRequest]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def add_namespace(self, name: str) -> dict:
        with self._lock:
            if self._namespaces is None:
                self._namespaces = {}
            ns = self._namespaces.get(name)
            if ns is None:
                ns = {
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {
                        "name": name,
                        "uid": str(uuid.uuid4()),
                        "resourceVersion": str(next(self._rv)),
                        "creationTimestamp": _now(),
                        "labels": {"kubernetes.io/metadata.name": name},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
                self._namespaces[name] = ns
            return copy.deepcopy(ns)

    def put_secret(
        self,
        namespace: str,
        name: str,
        data: dict[str, str] | None = None,
        *,
        labels: dict[str, str] | None = None,
        type: str = "Opaque",
    ) -> dict:
        """Seed a Secret directly (string values, stored base64), as if someone else created it."""
        body = {
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "type": type,
            "stringData": dict(data or {}),
        }
        with self._lock:
            self._secrets.pop((namespace, name), None)
            return self._create(namespace, body, check_namespace=False)

    def get_secret(self, namespace: str, name: str) -> dict | None:
        """The stored object (a copy), or None."""
        with self._lock:
            obj = self._secrets.get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def decoded(self, namespace: str, name: str) -> dict[str, str] | None:
        """The stored Secret's data, base64-decoded to text."""
        obj = self.get_secret(namespace, name)
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    def modify_secret(self, namespace: str, name: str, patch: dict) -> dict:
        """Change a Secret out of band (a merge patch); bumps its resourceVersion like any write."""
        with self._lock:
            current = self._secrets[(namespace, name)]
            return self._update(namespace, name, merge_patch(current, patch), current, precondition_rv=None)

    def delete_out_of_band(self, namespace: str, name: str) -> None:
        with self._lock:
            self._secrets.pop((namespace, name), None)

    def secrets(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(v) for _, v in sorted(self._secrets.items())]

    # --- request handling (called from server threads) ---------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    fault.hits += 1
                    return fault
        return None

    def handle(
        self, method: str, path: str, query: dict[str, str], content_type: str, body: Any
    ) -> tuple[int, dict]:
        """Answer one request: (status code, JSON body), or raise ApiError."""
        if "watch" in query and query["watch"] not in ("", "false", "0"):
            raise ApiError(400, "fake: watch is not supported")
        if "fieldSelector" in query and query["fieldSelector"]:
            raise ApiError(400, "fake: fieldSelector is not supported")
        with self._lock:
            if m := SECRET_ONE.match(path):
                ns, name = m.groups()
                if method == "GET":
                    return 200, self._read(ns, name)
                if method == "PUT":
                    return self._replace(ns, name, body)
                if method == "PATCH":
                    return self._patch(ns, name, content_type, body)
                if method == "DELETE":
                    return self._delete(ns, name, body)
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
            if m := SECRETS_NS.match(path):
                ns = m.group(1)
                if method == "GET":
                    return 200, self._list(ns, query)
                if method == "POST":
                    return 201, self._create(ns, body)
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
            if SECRETS_ALL.match(path):
                if method == "GET":
                    return 200, self._list(None, query)
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
            if m := NAMESPACE_ONE.match(path):
                if method == "GET":
                    return 200, self._read_namespace(m.group(1))
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
            if NAMESPACES.match(path):
                if method == "GET":
                    items = [copy.deepcopy(v) for _, v in sorted((self._namespaces or {}).items())]
                    return 200, {
                        "kind": "NamespaceList",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(next(self._rv))},
                        "items": items,
                    }
                if method == "POST":
                    name = ((body or {}).get("metadata") or {}).get("name", "")
                    if not name or not DNS1123_SUBDOMAIN.match(name):
                        raise ApiError(
                            422, f'Namespace "{name}" is invalid: metadata.name: Invalid value: "{name}"'
                        )
                    if self._namespaces is not None and name in self._namespaces:
                        raise ApiError(
                            409,
                            f'namespaces "{name}" already exists',
                            reason="AlreadyExists",
                            details={"name": name, "kind": "namespaces"},
                        )
                    return 201, self.add_namespace(name)
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource ({method})"
                )
        raise ApiError(404, "the server could not find the requested resource")

    def _read_namespace(self, name: str) -> dict:
        if self._namespaces is None:
            # Every namespace exists in this mode; answer a plausible object without recording it.
            return {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        if name not in self._namespaces:
            raise _not_found("namespaces", name)
        return copy.deepcopy(self._namespaces[name])

    def _read(self, ns: str, name: str) -> dict:
        obj = self._secrets.get((ns, name))
        if obj is None:
            raise _not_found("secrets", name)
        return copy.deepcopy(obj)

    def _list(self, ns: str | None, query: dict[str, str]) -> dict:
        requirements = parse_label_selector(query.get("labelSelector", ""))
        items = [
            copy.deepcopy(obj)
            for (obj_ns, _), obj in sorted(self._secrets.items())
            if (ns is None or obj_ns == ns)
            and selector_matches(obj["metadata"].get("labels") or {}, requirements)
        ]
        for item in items:
            # List items carry no kind/apiVersion on the wire; the list does.
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "kind": "SecretList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(next(self._rv))},
            "items": items,
        }

    def _normalize(self, ns: str, body: Any, url_name: str | None) -> dict:
        """Validate a Secret body as the apiserver would and return the object to store (no server fields)."""
        if not isinstance(body, dict):
            raise ApiError(
                400,
                "the body of the request was in an unknown format - "
                "accepted media types include: application/json",
            )
        if body.get("kind") not in (None, "Secret") or body.get("apiVersion") not in (None, "v1"):
            raise ApiError(
                400,
                f"the API version in the data ({body.get('apiVersion')}) and kind ({body.get('kind')}) "
                "do not match a v1 Secret",
            )
        meta = dict(body.get("metadata") or {})
        name = meta.get("name") or ""
        if url_name is not None and name and name != url_name:
            raise ApiError(
                400, f"the name of the object ({name}) does not match the name on the URL ({url_name})"
            )
        name = name or url_name or ""
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
        if meta.get("namespace") and meta["namespace"] != ns:
            raise ApiError(
                400, "the namespace of the provided object does not match the namespace sent on the request"
            )
        causes: list[tuple[str, str]] = []
        if not name:
            raise ApiError(
                422, 'Secret "" is invalid: metadata.name: Required value: name or generateName is required'
            )
        if len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            causes.append(
                (
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric characters, '-' or '.', "
                    "and must start and end with an alphanumeric character",
                )
            )
        labels = meta.get("labels") or {}
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise ApiError(
                400,
                "json: cannot unmarshal labels into Go struct field ObjectMeta.metadata.labels "
                "of type map[string]string",
            )
        for key, value in labels.items():
            prefix, _, label_name = key.rpartition("/")
            if (
                (prefix and not DNS1123_SUBDOMAIN.match(prefix))
                or len(label_name) > 63
                or not LABEL_NAME.match(label_name)
            ):
                causes.append(
                    (
                        "metadata.labels",
                        f'Invalid value: "{key}": name part must consist of alphanumeric characters',
                    )
                )
            if len(value) > 63 or not LABEL_VALUE.match(value):
                causes.append(
                    (
                        "metadata.labels",
                        f'Invalid value: "{value}": a valid label must be an empty string '
                        "or consist of alphanumeric characters",
                    )
                )
        data = body.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ApiError(
                400, "json: cannot unmarshal data into Go struct field Secret.data of type []uint8"
            )
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, f"illegal base64 data in Secret.data[{key}]") from None
        for key, value in (body.get("stringData") or {}).items():
            if not isinstance(value, str):
                raise ApiError(
                    400,
                    "json: cannot unmarshal stringData into Go struct field Secret.stringData of type string",
                )
            data = {**data, key: base64.b64encode(value.encode()).decode()}
        for key in data:
            if not DATA_KEY.match(key):
                causes.append(
                    (
                        f"data[{key}]",
                        f'Invalid value: "{key}": a valid config key must consist of '
                        "alphanumeric characters, '-', '_' or '.'",
                    )
                )
        if sum(len(base64.b64decode(v)) for v in data.values()) > MAX_SECRET_BYTES:
            causes.append(("data", f"Too long: must have at most {MAX_SECRET_BYTES} bytes"))
        if causes:
            raise _invalid(name, causes)
        stored_meta = {"name": name, "namespace": ns}
        for key in ("labels", "annotations", "ownerReferences", "finalizers"):
            if meta.get(key):
                stored_meta[key] = copy.deepcopy(meta[key])
        obj = {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": stored_meta,
            "type": body.get("type") or "Opaque",
        }
        if data:
            obj["data"] = data
        if body.get("immutable") is not None:
            obj["immutable"] = bool(body["immutable"])
        return obj

    def _create(self, ns: str, body: Any, *, check_namespace: bool = True) -> dict:
        if check_namespace and self._namespaces is not None and ns not in self._namespaces:
            raise _not_found("namespaces", ns)
        obj = self._normalize(ns, body, None)
        name = obj["metadata"]["name"]
        if (ns, name) in self._secrets:
            raise ApiError(
                409,
                f'secrets "{name}" already exists',
                reason="AlreadyExists",
                details={"name": name, "kind": "secrets"},
            )
        obj["metadata"].update(
            uid=str(uuid.uuid4()), resourceVersion=str(next(self._rv)), creationTimestamp=_now()
        )
        self._secrets[(ns, name)] = obj
        return copy.deepcopy(obj)

    def _update(self, ns: str, name: str, body: Any, current: dict, *, precondition_rv: str | None) -> dict:
        if precondition_rv and precondition_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on secrets "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                details={"name": name, "kind": "secrets"},
            )
        obj = self._normalize(ns, body, name)
        if obj["type"] != current.get("type", "Opaque"):
            raise _invalid(name, [("type", f'Invalid value: "{obj["type"]}": field is immutable')])
        if current.get("immutable") and (
            obj.get("data") != current.get("data") or obj.get("immutable") is not True
        ):
            raise _invalid(name, [("data", "Forbidden: field is immutable when `immutable` is set")])
        for key in ("uid", "creationTimestamp"):
            obj["metadata"][key] = current["metadata"][key]
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj != current:
            # The apiserver writes (and bumps resourceVersion) only when something changed.
            obj["metadata"]["resourceVersion"] = str(next(self._rv))
        self._secrets[(ns, name)] = obj
        return copy.deepcopy(obj)

    def _replace(self, ns: str, name: str, body: Any) -> tuple[int, dict]:
        current = self._secrets.get((ns, name))
        if current is None:
            raise _not_found("secrets", name)
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        return 200, self._update(ns, name, body, current, precondition_rv=rv)

    def _patch(self, ns: str, name: str, content_type: str, body: Any) -> tuple[int, dict]:
        if content_type not in MERGE_PATCH_TYPES:
            raise ApiError(
                415,
                f"fake: the patch type {content_type!r} is not supported (merge and strategic merge only)",
            )
        current = self._secrets.get((ns, name))
        if current is None:
            raise _not_found("secrets", name)
        if not isinstance(body, dict):
            raise ApiError(400, "the body of the request was in an unknown format")
        patch_meta = body.get("metadata") or {}
        if patch_meta.get("name") not in (None, name):
            raise ApiError(
                400,
                f"the name of the object ({patch_meta['name']}) does not match the name on the URL ({name})",
            )
        merged = merge_patch(current, body)
        return 200, self._update(ns, name, merged, current, precondition_rv=patch_meta.get("resourceVersion"))

    def _delete(self, ns: str, name: str, body: Any) -> tuple[int, dict]:
        current = self._secrets.get((ns, name))
        if current is None:
            raise _not_found("secrets", name)
        pre = (body.get("preconditions") or {}) if isinstance(body, dict) else {}
        meta = current["metadata"]
        for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(key) and pre[key] != meta[key]:
                raise ApiError(
                    409,
                    f'Operation cannot be fulfilled on secrets "{name}": Precondition failed: '
                    f"{label} in precondition: {pre[key]}, {label} in object meta: {meta[key]}",
                    details={"name": name, "kind": "secrets"},
                )
        del self._secrets[(ns, name)]
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": "secrets", "uid": meta["uid"]},
        }


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like the apiserver; JSON in and out."""

    kube: FakeKube
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, keep-alive requests wait ~40 ms each
    # for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "fake-kube-apiserver"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the request log is kept on the FakeKube; stderr noise helps nobody

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self.kube._lock:
            self.kube._log.append(
                KubeRequest(
                    self.command,
                    parts.path,
                    query,
                    content_type,
                    copy.deepcopy(body),
                    {k.lower(): v for k, v in self.headers.items()},
                )
            )
        fault = self.kube._take_fault(self.command, parts.path)
        headers: dict[str, str] = {}
        if fault is not None and fault.drop_connection:
            self.close_connection = True
            return  # no response at all: the client sees the connection close (RemoteDisconnected)
        try:
            if fault is not None:
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                raise ApiError(fault.status, fault.message, reason=fault.reason)
            if isinstance(body, str):
                raise ApiError(
                    400,
                    "the body of the request was in an unknown format - "
                    "accepted media types include: application/json",
                )
            code, payload = self.kube.handle(self.command, parts.path, query, content_type, body)
        except ApiError as exc:
            code, payload = exc.code, exc.status()
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch
