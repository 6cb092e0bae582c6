"""Kubernetes Secret sync: the real `kubernetes` client against the project's fake API server."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from kubernetes import client

from integrations import kube, tasks, writes
from integrations.kube import KubeSyncError, TransientKubeError
from integrations.models import MANAGED_BY_LABEL, Secret
from tests.fakes.kube import FakeKube

NS = "acme-research"
CANARY = "CANARY-apikey-7f3e9a1c5d2b4e6f8a0c"
PALETTE = {
    "apiKey": CANARY,
    "defaultProjectID": "5f1e2d3c4b5a697887766554",
    "hostUrl": "https://palette.example.com",
    "tenant": "acme",
    "skipSSLCertificateVerification": False,
}
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def kube_off(settings):
    settings.KUBERNETES_API_URL = ""
    settings.KUBECONFIG = ""
    settings.KUBERNETES_IN_CLUSTER = False


def palette_secret(world, name: str = "palette-api-secret", values: dict | None = None) -> Secret:
    """A Palette Secret row in project A's namespace (its on-commit sync never runs in a `db` test)."""
    return writes.save_secret(world.project_a, name, {"palette": json.dumps(values or PALETTE)})


def methods(fake: FakeKube) -> list[str]:
    return [r.method for r in fake.requests]


# --- configuration -------------------------------------------------------------------------------


def test_it_is_off_when_nothing_is_configured(kube_off, fake_kube, world):
    assert kube.kube_api() is None
    assert kube.kube_status() == {
        "enabled": False,
        "server": "",
        "label": "Kubernetes sync: off",
        "error": "",
    }
    secret = palette_secret(world)
    tasks.sync_secret_task(secret.pk)
    tasks.delete_kube_secret_task(NS, "palette-api-secret")
    assert tasks.resync_secrets_task() == 0
    kube.sync_secret(secret)
    assert fake_kube.requests == []
    secret.refresh_from_db()
    assert secret.kube_synced_at is None and secret.kube_error == ""


def test_it_is_on_with_the_url_and_builds_a_real_client(kube_on):
    status = kube.kube_status()
    assert status["enabled"] is True and status["server"] == kube_on.url
    assert status["label"] == f"Kubernetes sync: on ({kube_on.url})"
    api = kube.kube_api()
    try:
        assert isinstance(api, client.CoreV1Api)
        assert api.read_namespace(NS).metadata.name == NS
    finally:
        api.api_client.close()


def test_it_loads_a_kubeconfig_file_and_sends_its_token(settings, fake_kube, world, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": fake_kube.url}}],
                "users": [{"name": "admin", "user": {"token": "kubeconfig-token-123456"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "admin"}}],
            }
        )
    )
    settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = "", str(path), False
    assert kube.kube_status()["label"] == f"Kubernetes sync: on ({fake_kube.url})"
    secret = palette_secret(world)
    kube.sync_secret(secret)
    assert fake_kube.get_secret(NS, "palette-api-secret") is not None
    assert fake_kube.requests[0].headers.get("authorization") == "Bearer kubeconfig-token-123456"


def test_it_reports_a_broken_kubeconfig_without_quoting_it(settings, world, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("users:\n- name: x\n  user: {token: leaked-token-987654\n")  # broken YAML holding a token
    settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = "", str(path), False
    status = kube.kube_status()
    assert status["enabled"] is True and status["label"] == "Kubernetes sync: configuration error"
    assert str(path) in status["error"] and "leaked-token" not in status["error"]
    secret = palette_secret(world)
    with pytest.raises(KubeSyncError) as excinfo:
        kube.sync_secret(secret)
    assert not isinstance(excinfo.value, TransientKubeError)
    secret.refresh_from_db()
    assert "KUBECONFIG" in secret.kube_error and "leaked-token" not in secret.kube_error


def test_it_reports_a_bad_url_and_a_missing_service_account(settings, monkeypatch):
    settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = (
        "ftp://cluster",
        "",
        False,
    )
    assert (
        kube.kube_status()["error"] == "KUBERNETES_API_URL='ftp://cluster' is not an http:// or https:// URL."
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings.KUBERNETES_API_URL, settings.KUBERNETES_IN_CLUSTER = "", True
    status = kube.kube_status()
    assert status["label"] == "Kubernetes sync: configuration error"
    assert status["error"].startswith("KUBERNETES_IN_CLUSTER is on but the service account cannot be loaded")
    with pytest.raises(kube.KubeConfigError):
        kube.kube_api()


def test_it_reports_a_missing_kubeconfig_file(settings, tmp_path):
    settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = (
        "",
        str(tmp_path / "nope"),
        False,
    )
    assert kube.kube_status()["error"].startswith(f"KUBECONFIG={tmp_path / 'nope'}")


# --- create and update ---------------------------------------------------------------------------


def test_it_creates_the_secret_in_paletteai_shape_end_to_end(
    kube_on, world, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        secret = writes.save_secret(world.project_a, "palette-api-secret", {"palette": json.dumps(PALETTE)})
    obj = kube_on.get_secret(NS, "palette-api-secret")
    assert obj is not None, "the on-commit task did not create the Secret"
    assert obj["type"] == "Opaque"
    assert obj["data"] == {"palette": b64(json.dumps(PALETTE))}
    assert json.loads(kube_on.decoded(NS, "palette-api-secret")["palette"]) == PALETTE
    assert obj["metadata"]["labels"][MANAGED_BY_LABEL[0]] == MANAGED_BY_LABEL[1]
    # The task got an id, never the values; the client sent base64 `data`, not stringData.
    assert queued == [("integrations.sync_secret", (secret.pk,))]
    (post,) = [r for r in kube_on.requests if r.method == "POST"]
    assert post.path == f"/api/v1/namespaces/{NS}/secrets" and "stringData" not in post.body
    secret.refresh_from_db()
    assert secret.kube_resource_version == obj["metadata"]["resourceVersion"]
    assert secret.kube_synced_at is not None and secret.kube_error == ""


def test_it_writes_a_ca_secret_with_key_ca_crt(kube_on, world):
    secret = writes.save_secret(world.project_a, "palette-ca", {"ca.crt": CA_PEM})
    kube.sync_secret(secret)
    assert kube_on.get_secret(NS, "palette-ca")["data"] == {"ca.crt": b64(CA_PEM)}
    assert kube_on.decoded(NS, "palette-ca") == {"ca.crt": CA_PEM}


def test_it_writes_a_tenant_secret_to_the_tenant_namespace(kube_on, world):
    secret = writes.save_secret(
        world.tenant_a, "hf-token", {"huggingface": json.dumps({"token": "hf_abcdefgh"})}
    )
    kube.sync_secret(secret)
    assert kube_on.get_secret(world.tenant_a.namespace, "hf-token") is not None


def test_it_updates_with_the_stored_resource_version_end_to_end(
    kube_on, world, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        secret = writes.save_secret(world.project_a, "palette-api-secret", {"palette": json.dumps(PALETTE)})
    first_rv = Secret.objects.get(pk=secret.pk).kube_resource_version
    kube_on.clear_log()
    rotated = {**PALETTE, "apiKey": "ROTATED-key-0123456789"}
    with django_capture_on_commit_callbacks(execute=True):
        writes.save_secret(world.project_a, "palette-api-secret", {"palette": json.dumps(rotated)})
    assert methods(kube_on) == ["PUT"]
    assert kube_on.requests[0].body["metadata"]["resourceVersion"] == first_rv
    assert (
        json.loads(kube_on.decoded(NS, "palette-api-secret")["palette"])["apiKey"] == "ROTATED-key-0123456789"
    )
    secret.refresh_from_db()
    assert (
        secret.kube_resource_version
        == kube_on.get_secret(NS, "palette-api-secret")["metadata"]["resourceVersion"]
    )
    assert secret.kube_resource_version != first_rv


def test_it_rereads_and_retries_once_on_a_conflict(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    # Someone changes our Secret in the cluster: our stored resourceVersion is now stale.
    kube_on.modify_secret(NS, "palette-api-secret", {"data": {"palette": b64("{}")}})
    ours_rv = secret.kube_resource_version
    theirs_rv = kube_on.get_secret(NS, "palette-api-secret")["metadata"]["resourceVersion"]
    kube_on.clear_log()
    kube.sync_secret(secret)
    assert methods(kube_on) == ["PUT", "GET", "PUT"]
    first_put, _, second_put = kube_on.requests
    assert first_put.body["metadata"]["resourceVersion"] == ours_rv != theirs_rv
    assert second_put.body["metadata"]["resourceVersion"] == theirs_rv
    # The database is the source of truth: our content wins.
    assert json.loads(kube_on.decoded(NS, "palette-api-secret")["palette"]) == PALETTE
    secret.refresh_from_db()
    assert secret.kube_error == ""
    assert (
        secret.kube_resource_version
        == kube_on.get_secret(NS, "palette-api-secret")["metadata"]["resourceVersion"]
    )


def test_it_writes_the_latest_row_after_a_conflict(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    kube_on.modify_secret(NS, "palette-api-secret", {"metadata": {"annotations": {"touched": "yes"}}})
    # A newer save lands while this (older) copy of the row is being synced.
    newer = {**PALETTE, "tenant": "acme-renamed"}
    Secret.objects.filter(pk=secret.pk).update(
        data=json.dumps({"palette": json.dumps(newer)})
    )  # encrypted by the field
    kube.sync_secret(secret)
    assert json.loads(kube_on.decoded(NS, "palette-api-secret")["palette"])["tenant"] == "acme-renamed"


def test_it_treats_a_second_conflict_as_transient(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    kube_on.fail_next(2, 409, method="PUT", reason="Conflict")
    with pytest.raises(TransientKubeError):
        kube.sync_secret(secret)
    assert methods(kube_on)[-3:] == ["PUT", "GET", "PUT"]
    secret.refresh_from_db()
    assert "409" in secret.kube_error


def test_it_adopts_its_own_secret_when_it_holds_no_resource_version(kube_on, world):
    kube_on.put_secret(
        NS, "palette-api-secret", {"palette": "{}"}, labels={MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}
    )
    secret = palette_secret(world)
    kube.sync_secret(secret)
    assert methods(kube_on) == ["POST", "GET", "PUT"]
    assert json.loads(kube_on.decoded(NS, "palette-api-secret")["palette"]) == PALETTE


def test_it_recreates_a_secret_deleted_in_the_cluster(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    kube_on.delete_out_of_band(NS, "palette-api-secret")
    kube.sync_secret(secret)
    assert methods(kube_on)[-2:] == ["PUT", "POST"]
    assert kube_on.get_secret(NS, "palette-api-secret") is not None


def test_it_never_overwrites_a_secret_it_does_not_manage(kube_on, world):
    kube_on.put_secret(NS, "palette-api-secret", {"palette": "theirs"}, labels={"owner": "someone-else"})
    secret = palette_secret(world)
    with pytest.raises(KubeSyncError) as excinfo:
        kube.sync_secret(secret)
    assert not isinstance(excinfo.value, TransientKubeError)
    assert kube_on.decoded(NS, "palette-api-secret") == {"palette": "theirs"}
    assert "PUT" not in methods(kube_on)
    secret.refresh_from_db()
    assert "not labelled app.kubernetes.io/managed-by=paletteai-admin" in secret.kube_error
    # The task records it and does not retry it (the periodic resync will look again).
    tasks.sync_secret_task(secret.pk)
    assert kube_on.decoded(NS, "palette-api-secret") == {"palette": "theirs"}


def test_it_reports_a_missing_namespace(settings, world):
    with FakeKube(namespaces=["somewhere-else"]) as fake:
        settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = fake.url, "", False
        secret = palette_secret(world)
        with pytest.raises(KubeSyncError) as excinfo:
            kube.sync_secret(secret)
        assert not isinstance(excinfo.value, TransientKubeError)
        secret.refresh_from_db()
        assert secret.kube_error.startswith(f"Namespace {NS} does not exist in the cluster")
        fake.add_namespace(NS)
        kube.sync_secret(secret)
        assert secret.kube_error == "" and fake.get_secret(NS, "palette-api-secret") is not None


# --- failures, retries and what error messages may say --------------------------------------------


def test_it_records_a_server_error_and_clears_it_on_success(kube_on, world):
    secret = palette_secret(world)
    kube_on.fail_next(1, 500, method="POST")
    with pytest.raises(TransientKubeError):
        kube.sync_secret(secret)
    secret.refresh_from_db()
    assert "500" in secret.kube_error and "will retry" in secret.kube_error
    assert secret.kube_synced_at is None
    kube.sync_secret(secret)
    secret.refresh_from_db()
    assert secret.kube_error == "" and secret.kube_synced_at is not None


def test_it_retries_a_server_error_until_it_succeeds(kube_on, world):
    secret = palette_secret(world)
    fault = kube_on.fail_next(2, 503, method="POST")
    # apply() runs the task in-process with Celery's retry machinery (autoretry_for), countdowns skipped.
    result = tasks.sync_secret_task.apply(args=[secret.pk])
    assert result.successful(), result.traceback
    assert fault.hits == 2 and methods(kube_on) == ["POST", "POST", "POST"]
    secret.refresh_from_db()
    assert secret.kube_error == "" and kube_on.get_secret(NS, "palette-api-secret") is not None


def test_it_does_not_retry_a_permanent_error(kube_on, world):
    secret = palette_secret(world)
    kube_on.fail_next(
        5, 403, method="POST", message='secrets is forbidden: User "x" cannot create resource "secrets"'
    )
    result = tasks.sync_secret_task.apply(args=[secret.pk])
    assert result.successful()
    assert methods(kube_on) == ["POST"]
    secret.refresh_from_db()
    assert secret.kube_error.startswith(f"Not allowed to write Secret {NS}/palette-api-secret (403)")


def test_it_retries_only_transient_errors_with_backoff_and_jitter():
    for task, name in (
        (tasks.sync_secret_task, "integrations.sync_secret"),
        (tasks.delete_kube_secret_task, "integrations.delete_kube_secret"),
    ):
        assert task.name == name and task.acks_late is True
        assert task.autoretry_for == (TransientKubeError,)
        assert task.retry_backoff and task.retry_jitter is True and task.max_retries == 5
    assert not issubclass(KubeSyncError, TransientKubeError)


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (400, False),
        (401, False),
        (403, False),
        (422, False),
    ],
)
def test_it_classifies_api_errors(kube_on, world, status, transient):
    secret = palette_secret(world)
    kube_on.fail_next(1, status, method="POST")
    with pytest.raises(KubeSyncError) as excinfo:
        kube.sync_secret(secret)
    assert isinstance(excinfo.value, TransientKubeError) is transient
    assert str(status) in Secret.objects.get(pk=secret.pk).kube_error


def test_it_treats_connection_failures_as_transient(kube_on, world):
    secret = palette_secret(world)
    kube_on.fail_next(1, drop_connection=True, method="POST")
    with pytest.raises(TransientKubeError, match="Cannot reach"):
        kube.sync_secret(secret)
    url = kube_on.url
    kube_on.stop()
    with pytest.raises(TransientKubeError, match="Cannot reach"):
        kube.sync_secret(secret)
    secret.refresh_from_db()
    assert secret.kube_error.startswith(f"Cannot reach {url}")


def test_it_never_puts_secret_values_in_errors(kube_on, world):
    secret = palette_secret(world)
    # A server (or a proxy in front of it) that echoes what it was sent, plainly and in base64.
    echo = f"bad request body {CANARY} {b64(json.dumps(PALETTE))}"
    for status in (500, 422):
        kube_on.fail_next(1, status, method="POST", message=echo)
        with pytest.raises(KubeSyncError) as excinfo:
            kube.sync_secret(secret)
        stored = Secret.objects.get(pk=secret.pk).kube_error
        for text in (str(excinfo.value), stored, repr(excinfo.value)):
            assert CANARY not in text and b64(json.dumps(PALETTE)) not in text
            assert "[redacted]" in text
        # Raised "from None": no chained ApiException (whose text has the whole body) in tracebacks.
        assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_it_records_a_row_it_cannot_decrypt(kube_on, world, settings):
    from cryptography.fernet import Fernet

    secret = palette_secret(world)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key changed without rotation
    tasks.sync_secret_task(secret.pk)
    assert kube_on.requests == []
    error = Secret.objects.filter(pk=secret.pk).values_list("kube_error", flat=True).get()
    assert "cannot be decrypted" in error


def test_it_records_a_row_the_client_model_rejects_without_its_values(kube_on, world):
    secret = palette_secret(world)
    secret.labels = {"team": 12345678}  # labels must be strings
    with pytest.raises(KubeSyncError) as excinfo:
        kube.sync_secret(secret)
    assert not isinstance(excinfo.value, TransientKubeError)
    assert "invalid: labels.team" in str(excinfo.value) and "12345678" not in str(excinfo.value)
    assert kube_on.requests == []


def test_it_is_a_noop_when_the_row_is_gone(kube_on, world):
    tasks.sync_secret_task(987654321)
    assert kube_on.requests == []


# --- delete --------------------------------------------------------------------------------------


def test_it_deletes_its_secret_end_to_end(kube_on, world, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        secret = writes.save_secret(world.project_a, "palette-ca", {"ca.crt": CA_PEM})
    uid = kube_on.get_secret(NS, "palette-ca")["metadata"]["uid"]
    with django_capture_on_commit_callbacks(execute=True):
        writes.delete_secret(secret)
    assert kube_on.get_secret(NS, "palette-ca") is None
    assert queued[-1] == ("integrations.delete_kube_secret", (NS, "palette-ca"))
    (delete,) = [r for r in kube_on.requests if r.method == "DELETE"]
    assert delete.body["preconditions"]["uid"] == uid


def test_it_treats_a_missing_secret_as_deleted(kube_on, db):
    assert kube.delete_secret(NS, "never-existed") == "absent"
    tasks.delete_kube_secret_task(NS, "never-existed")  # does not raise
    assert "DELETE" not in methods(kube_on)


def test_it_never_deletes_a_secret_it_does_not_manage(kube_on, db):
    kube_on.put_secret(
        NS, "their-secret", {"token": "theirs"}, labels={"app.kubernetes.io/managed-by": "helm"}
    )
    assert kube.delete_secret(NS, "their-secret") == "not-managed"
    tasks.delete_kube_secret_task(NS, "their-secret")
    assert kube_on.get_secret(NS, "their-secret") is not None
    assert "DELETE" not in methods(kube_on)


def test_it_does_not_delete_a_secret_whose_row_was_recreated(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    tasks.delete_kube_secret_task(NS, "palette-api-secret")  # a late delete from before the re-create
    assert kube_on.get_secret(NS, "palette-api-secret") is not None


def test_it_does_not_delete_a_secret_replaced_after_it_was_read(kube_on, world):
    secret = palette_secret(world)
    kube.sync_secret(secret)
    Secret.objects.filter(pk=secret.pk).delete()
    kube_on.fail_next(1, 409, method="DELETE", message="Precondition failed")
    with pytest.raises(TransientKubeError):
        tasks.delete_kube_secret_task(NS, "palette-api-secret")
    assert kube_on.get_secret(NS, "palette-api-secret") is not None
    tasks.delete_kube_secret_task(NS, "palette-api-secret")  # the retry
    assert kube_on.get_secret(NS, "palette-api-secret") is None


def test_it_retries_a_failed_delete(kube_on, world):
    kube_on.put_secret(NS, "old", {"k": "v"}, labels={MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]})
    kube_on.fail_next(1, 500, method="DELETE")
    result = tasks.delete_kube_secret_task.apply(args=[NS, "old"])
    assert result.successful(), result.traceback
    assert kube_on.get_secret(NS, "old") is None


# --- periodic resync -----------------------------------------------------------------------------


def test_it_resyncs_failed_and_unsynced_secrets(kube_on, world, queued):
    synced = palette_secret(world, "synced")
    kube.sync_secret(synced)
    failed = palette_secret(world, "failed")
    kube_on.fail_next(1, 500, method="POST")
    with pytest.raises(TransientKubeError):
        kube.sync_secret(failed)
    never = palette_secret(world, "never")
    just_saved = palette_secret(world, "just-saved")  # its on-commit sync is still in flight
    stale = palette_secret(world, "stale")
    kube.sync_secret(stale)
    long_ago = timezone.now() - timedelta(minutes=5)
    Secret.objects.filter(pk=never.pk).update(updated=long_ago)
    Secret.objects.filter(pk=stale.pk).update(
        updated=long_ago, kube_synced_at=long_ago - timedelta(minutes=1)
    )
    Secret.objects.filter(pk=synced.pk).update(updated=long_ago)

    assert tasks.resync_secrets_task() == 3
    assert sorted(args[0] for _, args in queued) == sorted([failed.pk, never.pk, stale.pk])
    assert just_saved.pk not in [args[0] for _, args in queued]
    assert {kube_on.get_secret(NS, n) is not None for n in ("failed", "never", "stale")} == {True}
    assert tasks.secrets_needing_sync().filter(pk__in=[failed.pk, never.pk, stale.pk]).count() == 0


def test_it_schedules_the_resync_every_minute(settings):
    from paletteai_admin.celery import app

    (entry,) = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "integrations.resync_secrets"
    ]
    assert entry["schedule"] == 60
    assert "integrations.resync_secrets" in app.tasks


# --- the fake itself behaves like the apiserver where our code relies on it ---------------------


def test_it_fake_answers_like_the_apiserver(kube_on):
    cfg = client.Configuration()
    cfg.host = kube_on.url
    api = client.CoreV1Api(client.ApiClient(cfg))
    try:
        created = api.create_namespaced_secret(
            NS,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name="s1", labels={"team": "a"}), string_data={"k": "v"}
            ),
        )
        assert created.data == {"k": b64("v")} and created.string_data is None and created.type == "Opaque"
        assert (
            created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
        )
        with pytest.raises(client.ApiException) as exc:
            api.create_namespaced_secret(NS, {"metadata": {"name": "s1"}})
        assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "AlreadyExists"
        with pytest.raises(client.ApiException) as exc:
            api.read_namespaced_secret("nope", NS)
        assert exc.value.status == 404 and json.loads(exc.value.body) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'secrets "nope" not found',
            "reason": "NotFound",
            "code": 404,
            "details": {"name": "nope", "kind": "secrets"},
        }
        api.create_namespaced_secret("other-ns", {"metadata": {"name": "s2", "labels": {"team": "b"}}})
        assert [s.metadata.name for s in api.list_namespaced_secret(NS, label_selector="team=a").items] == [
            "s1"
        ]
        assert api.list_namespaced_secret(NS, label_selector="team=b").items == []
        assert [s.metadata.name for s in api.list_secret_for_all_namespaces(label_selector="team").items] == [
            "s1",
            "s2",
        ]
        patched = api.patch_namespaced_secret(
            "s1", NS, {"metadata": {"labels": {"x": "y"}}, "data": {"k2": b64("w")}}
        )
        assert kube_on.requests[-1].content_type == "application/strategic-merge-patch+json"
        assert patched.metadata.labels == {"team": "a", "x": "y"} and set(patched.data) == {"k", "k2"}
        stale = created.model_copy()
        with pytest.raises(client.ApiException) as exc:
            api.replace_namespaced_secret("s1", NS, stale)
        assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "Conflict"
        with pytest.raises(client.ApiException) as exc:
            api.create_namespaced_secret(NS, {"metadata": {"name": "s3"}, "data": {"k": "not base64!"}})
        assert exc.value.status == 400
        status = api.delete_namespaced_secret("s1", NS)  # typed `object` in the client: a dict
        assert (
            status["kind"] == "Status"
            and status["status"] == "Success"
            and kube_on.get_secret(NS, "s1") is None
        )
    finally:
        api.api_client.close()


# --- the whole path: commit → Redis → a real worker → the real client → the fake -------------------


@pytest.fixture
def kube_for_worker(monkeypatch, settings):
    """The fake, configured for this process and (through the environment) for the worker it starts."""
    with FakeKube() as fake:
        monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
        settings.KUBERNETES_API_URL, settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER = fake.url, "", False
        yield fake


@pytest.mark.worker
def test_it_syncs_and_retries_through_a_real_worker(kube_for_worker, celery_worker_process, world):
    from django.db import transaction

    from tests.conftest import wait_for

    fake = kube_for_worker
    fake.fail_next(1, 500, method="POST")
    with transaction.atomic():
        secret = writes.save_secret(world.project_a, "palette-api-secret", {"palette": json.dumps(PALETTE)})
    wait_for(
        lambda: Secret.objects.filter(pk=secret.pk, kube_error="", kube_synced_at__isnull=False).exists(),
        timeout=40,
        message="the worker to sync the Secret after one retry",
    )
    assert [r.method for r in fake.requests if r.method == "POST"] == ["POST", "POST"]
    assert json.loads(fake.decoded(NS, "palette-api-secret")["palette"]) == PALETTE
    log_text = celery_worker_process.log_path.read_text()
    assert "integrations.sync_secret" in log_text and "Retry in" in log_text
    assert CANARY not in log_text and b64(json.dumps(PALETTE)) not in log_text

    with transaction.atomic():
        writes.delete_secret(Secret.objects.get(pk=secret.pk))
    wait_for(
        lambda: fake.get_secret(NS, "palette-api-secret") is None,
        timeout=30,
        message="the worker to delete the Secret from Kubernetes",
    )


def test_it_shows_each_secrets_sync_state_on_the_settings_page(world, kube_on):
    from django.urls import reverse

    from integrations import writes
    from integrations.kube import sync_secret
    from integrations.models import Secret

    writes.save_secret(world.tenant_a, "ok-secret", {"palette": '{"tenant": "acme"}'})
    sync_secret(Secret.objects.get(name="ok-secret"))
    Secret.objects.filter(name="ok-secret").update(
        updated=Secret.objects.get(name="ok-secret").kube_synced_at
    )
    writes.save_secret(world.tenant_a, "bad-secret", {"palette": '{"tenant": "acme"}'})
    Secret.objects.filter(name="bad-secret").update(kube_error="namespace tenant-acme not found")
    body = (
        world.client_for(world.viewer)
        .get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"}))
        .content.decode()
    )
    assert "Kubernetes sync: on" in body
    assert 'ok-secret</code>: <span class="badge badge-ok">synced' in body
    assert "namespace tenant-acme not found" in body
