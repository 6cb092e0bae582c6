"""Kubernetes Secret sync: every integration Secret mirrored into its namespace with the official client.

The database is the source of truth. A Secret is written exactly in PaletteAI's shape: type
`Opaque`, `data` holding the base64 of each key (`palette` JSON, `ca.crt` PEM, `huggingface`,
`nvidia`), labelled `app.kubernetes.io/managed-by=paletteai-admin`. We never overwrite or delete a
Secret that does not carry that label: it belongs to someone else.

Where the cluster is comes from settings, first match wins: `KUBERNETES_API_URL` (a plain URL,
e.g. `kubectl proxy` or a test fake), `KUBECONFIG` (a file, or several separated by ':'),
`KUBERNETES_IN_CLUSTER` (the pod's service account). None of them means sync is off.

Errors are classified once here: transient (connection failures, timeouts, 409, 429, 5xx) raise
`TransientKubeError`, which the Celery tasks retry with backoff; everything else raises
`KubeSyncError` and waits for the periodic resync. Messages say what to do and never contain secret
values: we build them ourselves and redact anything from the cluster's answer that matches one.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Literal

import pydantic
import urllib3
from django.conf import settings
from django.utils import timezone
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .models import MANAGED_BY_LABEL, Secret

log = logging.getLogger(__name__)

# (connect, read) seconds per request: a hung apiserver must not hold a worker for long.
REQUEST_TIMEOUT = (5, 20)
# Retry only connection setup inside urllib3 (nothing was sent, so any verb is safe); every other
# failure goes back to Celery, which retries with backoff and records the error for the UI.
CONNECT_RETRIES = urllib3.util.Retry(
    total=2, connect=2, read=0, redirect=0, status=0, other=0, backoff_factor=0.2
)
MAX_MESSAGE = 500
REDACTED = "[redacted]"

DeleteOutcome = Literal["deleted", "absent", "not-managed"]


class KubeSyncError(Exception):
    """A sync failure that retrying soon will not fix (RBAC, validation, a Secret that is not ours).

    The message is safe to show and store: it never contains secret values.
    """


class TransientKubeError(KubeSyncError):
    """A sync failure worth retrying with backoff: connection errors, timeouts, 409, 429 and 5xx."""


class KubeConfigError(KubeSyncError):
    """Kubernetes is configured (KUBERNETES_API_URL, KUBECONFIG or in-cluster) but cannot be loaded."""


def kube_source() -> str:
    """Which setting configures the cluster: "url", "kubeconfig", "in-cluster", or "" (sync off)."""
    if settings.KUBERNETES_API_URL:
        return "url"
    if settings.KUBECONFIG:
        return "kubeconfig"
    if settings.KUBERNETES_IN_CLUSTER:
        return "in-cluster"
    return ""


def kube_configuration() -> client.Configuration | None:
    """A fresh client Configuration from settings, or None when sync is off.

    Fresh each time (never the client's process-wide default) so that settings changes and
    rotated in-cluster tokens are picked up, and so tests cannot leak configuration.
    Raises KubeConfigError when the configured source cannot be loaded.
    """
    source = kube_source()
    if not source:
        return None
    cfg = client.Configuration()
    if source == "url":
        url = settings.KUBERNETES_API_URL.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise KubeConfigError(f"KUBERNETES_API_URL={url!r} is not an http:// or https:// URL.")
        cfg.host = url
    elif source == "kubeconfig":
        try:
            # persist_config=False: never write refreshed tokens back into an operator's file.
            config.load_kube_config(
                config_file=settings.KUBECONFIG, client_configuration=cfg, persist_config=False
            )
        except ConfigException as exc:
            raise KubeConfigError(
                f"KUBECONFIG={settings.KUBECONFIG} cannot be used: {_truncate(str(exc))}"
            ) from None
        except OSError as exc:
            raise KubeConfigError(
                f"KUBECONFIG={settings.KUBECONFIG} cannot be read: {exc.strerror or type(exc).__name__}."
            ) from None
        except Exception as exc:  # noqa: BLE001 - YAML errors quote file lines, which may hold a token
            raise KubeConfigError(
                f"KUBECONFIG={settings.KUBECONFIG} is not a valid kubeconfig ({type(exc).__name__})."
            ) from None
    else:
        try:
            config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise KubeConfigError(
                f"KUBERNETES_IN_CLUSTER is on but the service account cannot be loaded: {_truncate(str(exc))}"
            ) from None
    cfg.retries = CONNECT_RETRIES
    return cfg


def kube_api() -> client.CoreV1Api | None:
    """A CoreV1Api for the configured cluster, or None when sync is off.

    Raises KubeConfigError when configured but unusable. The caller owns the client: close it with
    `api.api_client.close()` when done.
    """
    cfg = kube_configuration()
    if cfg is None:
        return None
    return client.CoreV1Api(client.ApiClient(cfg))


def kube_status() -> dict:
    """What the UI shows about sync, without contacting the cluster.

    {"enabled": bool, "server": str, "label": str, "error": str}; `label` is "Kubernetes sync: off"
    or "Kubernetes sync: on (<server>)", or says the configuration cannot be loaded.
    """
    try:
        cfg = kube_configuration()
    except KubeConfigError as exc:
        return {
            "enabled": True,
            "server": "",
            "label": "Kubernetes sync: configuration error",
            "error": str(exc),
        }
    if cfg is None:
        return {"enabled": False, "server": "", "label": "Kubernetes sync: off", "error": ""}
    return {"enabled": True, "server": cfg.host, "label": f"Kubernetes sync: on ({cfg.host})", "error": ""}


def is_managed(obj: client.V1Secret) -> bool:
    """True when the cluster's Secret carries our managed-by label, i.e. it is ours to change."""
    labels = (obj.metadata.labels if obj.metadata else None) or {}
    return labels.get(MANAGED_BY_LABEL[0]) == MANAGED_BY_LABEL[1]


def secret_body(secret: Secret, resource_version: str | None = None) -> client.V1Secret:
    """The Secret exactly as PaletteAI expects it: Opaque, base64 `data`, our labels."""
    data = {key: base64.b64encode(value.encode()).decode() for key, value in secret.get_data().items()}
    labels = {**(secret.labels or {}), MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}
    return client.V1Secret(
        api_version="v1",
        kind="Secret",
        type="Opaque",
        metadata=client.V1ObjectMeta(
            name=secret.name,
            namespace=secret.namespace,
            labels=labels,
            resource_version=resource_version or None,
        ),
        data=data,
    )


def sync_secret(secret: Secret, *, api: client.CoreV1Api | None = None) -> None:
    """Create or update `secret` in its namespace; record the outcome on the row.

    Create when we hold no resourceVersion; otherwise replace with the stored resourceVersion so a
    change made in the cluster since our last write is noticed (409). On 409 (stale version, or the
    Secret already exists) re-read it, refuse if it is not ours, reload our row (a concurrent save
    may have newer data) and replace once more with the fresh version; a second 409 is transient.
    A Secret deleted in the cluster is recreated.

    Idempotent: it writes the row's current content, so running it twice leaves the same object
    (the apiserver does not even bump resourceVersion for an unchanged write).

    On success sets kube_resource_version and kube_synced_at and clears kube_error. On failure
    stores a safe message in kube_error and raises TransientKubeError (retry) or KubeSyncError.
    Does nothing when sync is off.
    """
    owned = api is None
    try:
        if owned:
            api = kube_api()
            if api is None:
                return
        result = _write(api, secret)
    except KubeSyncError as exc:
        _record_error(secret, str(exc))
        raise
    except ApiException as exc:
        error = _classify(exc, api, secret.namespace, secret.name, "write", _secret_values(secret))
        _record_error(secret, str(error))
        raise error from None
    except urllib3.exceptions.HTTPError as exc:
        error = _connection_error(exc, api)
        _record_error(secret, str(error))
        raise error from None
    except Secret.DoesNotExist:
        return  # the row was deleted while we synced; the delete task removes it from the cluster
    except pydantic.ValidationError as exc:
        # The model's own message quotes the input values: name only the fields.
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()) or "unknown"
        error = KubeSyncError(
            f"Secret {secret} cannot be written as a Kubernetes Secret (invalid: {_truncate(fields)})."
        )
        _record_error(secret, str(error))
        raise error from None
    except ValueError as exc:
        # Decryption failure (core.fields raises a ValueError whose message names no secret).
        error = KubeSyncError(f"Secret {secret}: {_truncate(str(exc))}")
        _record_error(secret, str(error))
        raise error from None
    finally:
        if owned and api is not None:
            api.api_client.close()
    version = result.metadata.resource_version or ""
    now = timezone.now()
    Secret.objects.filter(pk=secret.pk).update(
        kube_resource_version=version, kube_synced_at=now, kube_error=""
    )
    secret.kube_resource_version, secret.kube_synced_at, secret.kube_error = version, now, ""


def _write(api: client.CoreV1Api, secret: Secret) -> client.V1Secret:
    ns, name = secret.namespace, secret.name
    if secret.kube_resource_version:
        try:
            return api.replace_namespaced_secret(
                name, ns, secret_body(secret, secret.kube_resource_version), _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                # Deleted in the cluster (by a person or a namespace reset): the database wins, recreate.
                return _create_or_adopt(api, secret)
            if exc.status != 409:
                raise
        return _replace_fresh(api, secret)
    return _create_or_adopt(api, secret)


def _create_or_adopt(api: client.CoreV1Api, secret: Secret) -> client.V1Secret:
    try:
        return api.create_namespaced_secret(
            secret.namespace, secret_body(secret), _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        if exc.status != 409:
            raise
    # AlreadyExists: ours from an earlier run whose result was not recorded (worker died), or someone else's.
    return _replace_fresh(api, secret)


def _replace_fresh(api: client.CoreV1Api, secret: Secret) -> client.V1Secret:
    current = api.read_namespaced_secret(secret.name, secret.namespace, _request_timeout=REQUEST_TIMEOUT)
    if not is_managed(current):
        raise KubeSyncError(
            f"Secret {secret.namespace}/{secret.name} already exists in the cluster and is not labelled "
            f"{MANAGED_BY_LABEL[0]}={MANAGED_BY_LABEL[1]}, so PaletteAI Admin will not overwrite it. "
            "Delete it, or add that label to let PaletteAI Admin manage it."
        )
    # A 409 means someone else wrote: that may be a concurrent sync of a newer save, so write the
    # row's latest content rather than what this run loaded.
    secret.refresh_from_db(fields=["data", "labels"])
    return api.replace_namespaced_secret(
        secret.name,
        secret.namespace,
        secret_body(secret, current.metadata.resource_version),
        _request_timeout=REQUEST_TIMEOUT,
    )


def delete_secret(namespace: str, name: str, *, api: client.CoreV1Api | None = None) -> DeleteOutcome | None:
    """Delete our Secret `namespace/name` from the cluster.

    Returns "deleted", "absent" (404 is success: already gone), "not-managed" (it exists without
    our label: left alone and logged), or None when sync is off. The delete carries the uid and
    resourceVersion we just read as preconditions, so a Secret replaced or relabelled in between is
    not deleted (409, transient: the retry reads again).

    Idempotent: deleting what is already gone is "absent".
    Raises TransientKubeError or KubeSyncError with a safe message.
    """
    owned = api is None
    try:
        if owned:
            api = kube_api()
            if api is None:
                return None
        try:
            current = api.read_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return "absent"
            raise
        if not is_managed(current):
            log.warning(
                "Not deleting Secret %s/%s from Kubernetes: it is not labelled %s=%s.",
                namespace,
                name,
                *MANAGED_BY_LABEL,
            )
            return "not-managed"
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(
                uid=current.metadata.uid, resource_version=current.metadata.resource_version
            )
        )
        try:
            api.delete_namespaced_secret(name, namespace, body=options, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return "absent"
            raise
        return "deleted"
    except ApiException as exc:
        # The row is gone, so there are no values to redact, and Kubernetes never echoes data in errors.
        raise _classify(exc, api, namespace, name, "delete", []) from None
    except urllib3.exceptions.HTTPError as exc:
        raise _connection_error(exc, api) from None
    finally:
        if owned and api is not None:
            api.api_client.close()


# --- errors ---------------------------------------------------------------------------------------


def _host(api: client.CoreV1Api | None) -> str:
    return api.api_client.configuration.host if api is not None else "the Kubernetes API"


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _secret_values(secret: Secret) -> list[str]:
    """Every string a message must not contain: each value, its base64, and the fields of JSON values."""
    try:
        values = list(secret.get_data().values())
    except ValueError:
        return []
    found: list[str] = []
    for value in values:
        found += [value, base64.b64encode(value.encode()).decode()]
        try:
            parsed = json.loads(value)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found += [str(v) for v in parsed.values() if isinstance(v, str)]
    # Short strings (booleans, empty fields) would mangle messages and reveal nothing.
    return sorted({v for v in found if len(v) >= 6}, key=len, reverse=True)


def _redact(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, REDACTED)
    return text


def _status_body(exc: ApiException) -> dict:
    """The Status object the apiserver answered, or {} (a proxy may answer HTML)."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _classify(
    exc: ApiException, api: client.CoreV1Api | None, namespace: str, name: str, verb: str, values: list[str]
) -> KubeSyncError:
    """Turn an ApiException into a safe, actionable KubeSyncError (TransientKubeError when worth retrying)."""
    status = exc.status or 0
    body = _status_body(exc)
    said = _redact(str(body.get("message", "")), values)
    suffix = f" Kubernetes said: {said}" if said else ""
    where = f"Secret {namespace}/{name}"
    host = _host(api)
    if status == 0:
        # The client raises status 0 for TLS failures: retrying will not fix a certificate.
        return KubeSyncError(
            _truncate(f"Cannot talk to {host} securely (TLS): check the cluster's CA in KUBECONFIG.")
        )
    if status == 401:
        message = (
            f"{host} rejected our credentials (401): check the token in KUBECONFIG or the service account."
        )
    elif status == 403:
        message = (
            f"Not allowed to {verb} {where} (403): grant get, create, update and delete on secrets in "
            f"namespace {namespace} to the account PaletteAI Admin uses.{suffix}"
        )
    elif status == 404 and (body.get("details") or {}).get("kind") == "namespaces":
        message = (
            f"Namespace {namespace} does not exist in the cluster at {host}: create it (PaletteAI creates it "
            f"with the project); the sync is retried periodically.{suffix}"
        )
    elif status == 404 and (body.get("details") or {}).get("kind") == "secrets":
        # The Secret vanished between two of our calls (deleted concurrently): the next attempt recreates it.
        return TransientKubeError(
            _truncate(f"{where} disappeared from the cluster while we wrote it; will retry.{suffix}")
        )
    elif status == 404:
        message = (
            f"{host} has no core/v1 Secrets API (404): check that the Kubernetes settings point at the API "
            f"server.{suffix}"
        )
    elif status == 409:
        message = f"{where} changed in the cluster while we wrote it (409 Conflict); will retry.{suffix}"
    elif status == 429 or status >= 500:
        message = f"{host} answered {status} {exc.reason or ''} for {where}; will retry.{suffix}"
    else:
        message = f"Kubernetes refused {where} ({status} {exc.reason or ''}).{suffix}"
    error_class = TransientKubeError if status in (409, 429) or status >= 500 else KubeSyncError
    return error_class(_truncate(message))


def _connection_error(exc: urllib3.exceptions.HTTPError, api: client.CoreV1Api | None) -> KubeSyncError:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, urllib3.exceptions.SSLError) or isinstance(reason, urllib3.exceptions.SSLError):
        return KubeSyncError(
            f"Cannot talk to {_host(api)} securely (TLS): check the cluster's CA in KUBECONFIG."
        )
    # The exception's text holds only the URL and the OS error, but the class name is enough.
    kind = type(reason).__name__ if isinstance(reason, Exception) else type(exc).__name__
    return TransientKubeError(f"Cannot reach {_host(api)} ({kind}); will retry.")


def _record_error(secret: Secret, message: str) -> None:
    Secret.objects.filter(pk=secret.pk).update(kube_error=message)
    secret.kube_error = message
