"""Canary secrets: planted through the real ways in, then searched for everywhere they must never be.

Canaries (each holds the marker CNRY, never in its last 4 characters, which the UI shows): Palette
API keys entered in the Settings form, in the onboarding wizard and in a manifest imported on the
Settings page; Hugging Face and NGC tokens; CA-private-key-shaped text pasted where a CA
certificate goes; a kubeconfig as provisioning stores it. The simulator is given none of the API
keys, so it answers 401 and — as Palette has done — echoes the presented key in its error body.

Searched: every page and htmx fragment of every URL (owner and superuser), error re-renders, the
Django admin, every log record at DEBUG, the audit log (rows and CSV), `export` without
--show-secrets, every column of every table (raw SQL, so secrets are only there encrypted), and
the Celery messages on Redis before a worker takes them.
"""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.conftest import require_services

from .sweep import AcmeObjects, routes

MARKER = "CNRY"
KEY_FORM = "CNRY-key-settings-form-7Qw9eR4tY2u"
KEY_WIZARD = "CNRY-key-onboarding-3Lk8Jh5Gf2d"
KEY_MANIFEST = "CNRY-key-manifest-import-9Zx1Cv6Bn"
KEY_REJECTED = "CNRY-key-rejected-form-4Mn7Bv2Cx"
HF_FORM = "hf_CNRYhftokenSettingsA1b2C3d4E5f6G7h8"
HF_WIZARD = "hf_CNRYhftokenWizardK1l2M3n4O5p6Q7r8S9"
NGC_FORM = "nvapi-CNRY-ngc-settings-form-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
NGC_MANIFEST = "nvapi-CNRY-ngc-manifest-" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4"
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n"
    "  user: {client-key-data: CNRYkubeconfigclientkey0123}\n"
)
SHAPED_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtCNRYprivatekeyshapedtext0123456789abcdefABCDEF\n"
    "-----END RSA PRIVATE KEY-----\n"
)


def _real_private_key() -> tuple[str, list[str]]:
    """A real EC private key in PEM, and its base64 lines (needles that hold no marker)."""
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    return pem, [line for line in pem.splitlines() if line and not line.startswith("-----")]


def find_canaries(text: str, needles: list[str]) -> list[str]:
    """The needles found in `text`, with a little context each."""
    hits = []
    for needle in needles:
        at = text.find(needle)
        if at >= 0:
            hits.append(f"{needle!r} in …{text[max(0, at - 80) : at + len(needle) + 40]!r}…")
    return hits


def _palette_post(sim, *, key: str, settings_name: str | None, ca_pem: str, **extra) -> dict:
    data = {
        "host_url": sim.url,
        "api_key": key,
        "tenant": "PaletteAI Demo",
        "default_project_id": sim.project_uids[0],
        "tls": "verify",
        "ca_pem": ca_pem,
        **extra,
    }
    if settings_name:
        data["settings_name"] = settings_name
    return data


def manifest(sim, *, ca_pem: str) -> str:
    palette = json.dumps(
        {
            "apiKey": KEY_MANIFEST,
            "hostUrl": sim.url,
            "tenant": "PaletteAI Demo",
            "defaultProjectID": sim.project_uids[1],
            "skipSSLCertificateVerification": False,
            "tlsSecretRef": "training-ca",
        }
    )
    indented_ca = "\n".join("    " + line for line in ca_pem.strip().splitlines())
    return f"""
apiVersion: spectrocloud.com/v1alpha1
kind: Project
metadata: {{name: training, namespace: acme-training}}
spec: {{tenantRef: {{name: acme}}, displayName: Training, settingsRef: {{name: training-settings}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: training-palette, namespace: acme-training}}
type: Opaque
stringData:
  palette: '{palette}'
---
apiVersion: v1
kind: Secret
metadata: {{name: training-ca, namespace: acme-training}}
type: Opaque
stringData:
  ca.crt: |
{indented_ca}
---
apiVersion: v1
kind: Secret
metadata: {{name: training-ngc, namespace: acme-training}}
type: Opaque
stringData:
  nvidia: '{{"apiKey": "{NGC_MANIFEST}"}}'
---
apiVersion: spectrocloud.com/v1alpha1
kind: Settings
metadata: {{name: training-settings, namespace: acme-training}}
spec:
  palette: {{secretRef: {{name: training-palette}}}}
  nvidiaNgc: {{secretRef: {{name: training-ngc}}}}
"""


class Planted:
    """What the planting left to search: the responses of the planting requests themselves, and the
    needles."""

    def __init__(self):
        self.responses: list[tuple[str, str]] = []
        self.needles = [MARKER]

    def keep(self, label: str, response, expect: str = "") -> None:
        """Keep the answer and, for a redirect (whose body is empty), the page it leads to, as a browser shows
        it."""
        assert response.status_code < 500, f"{label}: {response.status_code}"
        if response.status_code in (301, 302, 303):
            self.responses.append((label, response.content.decode(errors="replace")))
            label, response = f"{label} (the page it redirects to)", response.client.get(response["Location"])
            assert response.status_code == 200, f"{label}: {response.status_code}"
        body = response.content.decode(errors="replace")
        assert body.strip(), f"{label}: an empty answer proves nothing"
        assert expect in body, f"{label}: the answer does not say {expect!r}:\n{body[:3000]}"
        self.responses.append((label, body))


def plant(world, sim) -> Planted:
    """Put every canary in through the UI, the wizard and an import; run the checks and a discovery they
    trigger."""
    from compute.discovery import run_discovery
    from compute.models import ComputePool, DiscoveryRun
    from integrations import diagnosis
    from integrations.models import OnboardingSession, PaletteCheck, Secret
    from tenancy.models import Project

    planted = Planted()
    real_key, key_lines = _real_private_key()
    planted.needles += key_lines
    owner = world.client_for(world.owner)

    # 1. Settings page (tenant acme): the Palette form, then both tokens.
    url = reverse("integrations:tenant_palette_save", args=["acme"])
    planted.keep(
        "palette form",
        owner.post(url, _palette_post(sim, key=KEY_FORM, settings_name="acme-settings", ca_pem=sim.ca_pem)),
    )
    assert Secret.objects.filter(namespace="tenant-acme", name="acme-settings-palette").exists(), (
        planted.responses[-1][1][:3000]
    )
    for kind, token in (("huggingface", HF_FORM), ("ngc", NGC_FORM)):
        planted.keep(
            f"{kind} token",
            owner.post(
                reverse("integrations:tenant_token_save", args=["acme", kind]), {f"{kind}-token": token}
            ),
        )
        planted.keep(
            f"{kind} token test",
            owner.post(
                reverse("integrations:tenant_token_test", args=["acme", kind]), {f"{kind}-token": token}
            ),
        )
    # Rejected input is re-rendered: a new key with a bad URL, private keys pasted as the CA (alone and after
    # a CA).
    planted.keep(
        "palette form, bad host",
        owner.post(
            url,
            _palette_post(sim, key=KEY_REJECTED, settings_name=None, ca_pem="", host_url="https://bad host/"),
        ),
        expect="not a valid host name",
    )
    for label, pem in (
        ("real key", real_key),
        ("shaped key", SHAPED_KEY),
        ("CA then key", sim.ca_pem + real_key),
    ):
        planted.keep(
            f"palette form, {label} as CA",
            owner.post(url, _palette_post(sim, key=KEY_REJECTED, settings_name=None, ca_pem=pem)),
            expect="contains a private key",
        )
    for label, pem in (("real key", real_key), ("shaped key", SHAPED_KEY)):
        planted.keep(
            f"palette form, {label} uploaded",
            owner.post(
                url,
                {
                    **_palette_post(sim, key="", settings_name=None, ca_pem=""),
                    "ca_file": io.BytesIO(pem.encode()),
                },
            ),
            expect="contains a private key",
        )

    # 2. The onboarding wizard for project research: its own credentials, an HF token.
    owner.post(reverse("integrations:onboarding"), {"tenant": "acme", "project": "research"})
    session = OnboardingSession.objects.filter(
        user=world.owner, project__name="research", finished__isnull=True
    ).latest("created")
    step = lambda name: reverse("integrations:onboarding_step", args=[session.uuid, name])  # noqa: E731
    planted.keep(
        "wizard palette, key as CA",
        owner.post(
            step("palette"),
            {
                "action": "save",
                "scope": "project",
                **_palette_post(sim, key=KEY_WIZARD, settings_name="research-settings", ca_pem=SHAPED_KEY),
            },
        ),
        expect="contains a private key",
    )
    planted.keep(
        "wizard palette",
        owner.post(
            step("palette"),
            {
                "action": "save",
                "scope": "project",
                **_palette_post(sim, key=KEY_WIZARD, settings_name="research-settings", ca_pem=sim.ca_pem),
            },
        ),
    )
    assert Secret.objects.filter(namespace="acme-research").exists(), planted.responses[-1][1][:3000]
    for check in PaletteCheck.objects.filter(status=PaletteCheck.PENDING):
        diagnosis.perform_check(check)
    planted.keep("wizard check page", owner.get(step("check")))
    planted.keep("wizard skip check", owner.post(step("check"), {"action": "skip", "understand": "on"}))
    planted.keep("wizard tokens", owner.post(step("tokens"), {"huggingface-token": HF_WIZARD}))
    planted.keep("wizard discovery", owner.post(step("discovery"), {"action": "skip"}))
    planted.keep("wizard summary", owner.get(step("summary")))

    # 3. A manifest imported on the Settings page: a new project with its own key, CA and NGC key; and
    # rejected imports (a private key as ca.crt; an error elsewhere in a file holding a key).
    import_url = reverse("integrations:tenant_settings_import", args=["acme"])
    bad = manifest(sim, ca_pem=SHAPED_KEY)
    planted.keep("import, key as CA", owner.post(import_url, {"manifest": bad}), expect="private key")
    planted.keep(
        "import, dry run with error",
        owner.post(
            import_url,
            {
                "manifest": manifest(sim, ca_pem=sim.ca_pem).replace(
                    "displayName: Training", "displayName: Training, gpuLimit: lots"
                ),
                "dry_run": "on",
            },
        ),
        expect="gpuLimit",
    )
    planted.keep("import", owner.post(import_url, {"manifest": manifest(sim, ca_pem=sim.ca_pem)}))
    training = Project.objects.get(name="training")
    assert Secret.objects.filter(namespace="acme-training", name="training-ngc").exists(), planted.responses[
        -1
    ][1][:3000]

    # 4. What the keys make happen: connection checks (401 with the key echoed) and a discovery run.
    for target in (world.tenant_a, world.project_a, training):
        planted.keep(
            "check start",
            owner.post(
                reverse("integrations:project_check_start", args=["acme", target.name])
                if isinstance(target, Project)
                else reverse("integrations:tenant_check_start", args=["acme"])
            ),
        )
    for check in PaletteCheck.objects.filter(status=PaletteCheck.PENDING):
        diagnosis.perform_check(check)
    failed = PaletteCheck.objects.filter(project=world.project_a).latest("created")
    # The simulator echoed the key (as Palette has): the run holds the redaction, which proves the echo path
    # ran.
    assert failed.outcome == PaletteCheck.FAILED_OUTCOME and "[REDACTED]" in failed.last_error, (
        failed.last_error
    )
    run = run_discovery(DiscoveryRun.objects.create(project=world.project_a, trigger="test"))
    assert run.status == DiscoveryRun.FAILED

    # 5. A kubeconfig as provisioning stores it (the UI must never show it).
    acme = AcmeObjects(world)
    ComputePool.objects.filter(pk=acme.pool.pk).update(
        kubeconfig=""
    )  # through the field below, so it is encrypted
    acme.pool.kubeconfig = KUBECONFIG
    acme.pool.save(update_fields=["kubeconfig"])
    planted.acme = acme
    return planted


def _every_table() -> str:
    """Every row of every table of the project's models, read with raw SQL (what a database dump holds)."""
    from django.contrib.sessions.backends.db import SessionStore

    chunks = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            cursor.execute(f'SELECT * FROM "{model._meta.db_table}"')
            chunks.extend(repr(row) for row in cursor.fetchall())
        cursor.execute("SELECT session_data FROM django_session")
        chunks.extend(json.dumps(SessionStore().decode(data), default=str) for (data,) in cursor.fetchall())
    return "\n".join(chunks)


def test_it_never_shows_logs_exports_or_stores_a_planted_secret(world, sim, caplog):
    from core.fields import decrypt
    from core.models import AuditEntry
    from integrations.models import Secret

    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    planted = plant(world, sim)
    acme, needles, hits = planted.acme, planted.needles, []

    # Pages and fragments: every URL, as the tenant admin and as the superuser, full page and htmx.
    for user in (world.owner, world.superuser):
        client = world.client_for(user)
        for route in routes():
            for case in acme.cases(route, user):
                urls = [case.url]
                if route.kwargs == ("tenant", "project"):
                    urls.append(
                        reverse(route.name, kwargs={"tenant": "acme", "project": "training"})
                    )  # the imported project
                for url in urls:
                    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
                        response = client.get(url, **extra)
                        assert response.status_code < 500, f"{url}: {response.status_code}"
                        hits += [
                            f"GET {url} as {user}: {h}"
                            for h in find_canaries(response.content.decode(errors="replace"), needles)
                        ]
        for model in admin.site._registry:
            info = (model._meta.app_label, model._meta.model_name)
            pages = [reverse("admin:{}_{}_changelist".format(*info))]
            pages += [
                reverse("admin:{}_{}_change".format(*info), args=[pk])
                for pk in model._default_manager.values_list("pk", flat=True)[:20]
            ]
            if user.is_superuser:
                for url in pages:
                    hits += [
                        f"GET {url}: {h}"
                        for h in find_canaries(client.get(url).content.decode(errors="replace"), needles)
                    ]
    for label, body in planted.responses:
        hits += [f"response to {label}: {h}" for h in find_canaries(body, needles)]

    # Logs, audit log (rows and the CSV export), exports without --show-secrets, every table.
    for record in caplog.records:
        text = (
            f"{record.getMessage()} {record.args!r} "
            f"{logging.Formatter().formatException(record.exc_info) if record.exc_info else ''}"
        )
        hits += [
            f"log record {record.name} ({record.getMessage()[:80]}): {h}"
            for h in find_canaries(text, needles)
        ]
    hits += [f"log: {h}" for h in find_canaries(caplog.text, needles)]
    assert AuditEntry.objects.count() >= 10
    hits += [
        f"audit row: {h}"
        for h in find_canaries(json.dumps(list(AuditEntry.objects.values()), default=str), needles)
    ]
    csv = world.client_for(world.superuser).get(reverse("tenancy:audit_list") + "?format=csv")
    assert csv.status_code == 200 and b"secret" in csv.content
    hits += [f"audit CSV: {h}" for h in find_canaries(csv.content.decode(), needles)]
    exported = io.StringIO()
    call_command("export", stdout=exported)
    assert "training-palette" in exported.getvalue() and "REDACTED" in exported.getvalue()
    hits += [f"export: {h}" for h in find_canaries(exported.getvalue(), needles)]
    for namespace in ("tenant-acme", "acme-research", "acme-training"):
        out = io.StringIO()
        call_command("export", "-n", namespace, stdout=out)
        hits += [f"export -n {namespace}: {h}" for h in find_canaries(out.getvalue(), needles)]
    dump = _every_table()
    hits += [f"database: {h}" for h in find_canaries(dump, needles)]
    assert not hits, f"{len(hits)} canary sightings:\n" + "\n".join(list(dict.fromkeys(hits))[:60])

    # Controls: the canaries really were stored (encrypted) and do come out where they must.
    shown = io.StringIO()
    call_command("export", "--show-secrets", stdout=shown)
    for value in (KEY_FORM, KEY_WIZARD, KEY_MANIFEST, HF_FORM, HF_WIZARD, NGC_FORM, NGC_MANIFEST):
        assert value in shown.getvalue(), f"{value} was not stored: the planting failed"
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM integrations_secret")
        raw = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT kubeconfig FROM compute_computepool WHERE kubeconfig <> ''")
        raw_kubeconfig = [row[0] for row in cursor.fetchall()]
    assert len(raw) == Secret.objects.count() >= 7
    assert MARKER in "".join(decrypt(value) for value in raw) and all(MARKER not in value for value in raw)
    assert raw_kubeconfig and MARKER in decrypt(raw_kubeconfig[0]) and MARKER not in raw_kubeconfig[0]
    assert MARKER not in "".join(s.get_data().get("ca.crt", "") for s in Secret.objects.all()), (
        "a private key was stored as a CA"
    )


def _redis_messages(client) -> list[tuple[str, bytes]]:
    """(key, raw message) for every list, hash, set and string in this test process's Redis database."""
    found = []
    for key in client.keys("*"):
        kind = client.type(key)
        if kind == b"list":
            found += [(key.decode(), m) for m in client.lrange(key, 0, -1)]
        elif kind == b"hash":
            found += [(key.decode(), m) for m in client.hvals(key)]
        elif kind in (b"set", b"zset"):
            found += [
                (key.decode(), m)
                for m in (client.smembers(key) if kind == b"set" else client.zrange(key, 0, -1))
            ]
        elif kind == b"string":
            found.append((key.decode(), client.get(key)))
    return found


def _decoded(message: bytes) -> str:
    """The raw message and, for a kombu envelope, its base64 body decoded (task args and kwargs)."""
    text = message.decode(errors="replace")
    try:
        envelope = json.loads(text)
        body = base64.b64decode(envelope["body"]).decode(errors="replace")
    except (ValueError, KeyError, TypeError):
        return text
    return text + "\n" + body


@pytest.mark.worker
def test_it_sends_no_secret_in_celery_messages(world, sim, settings, django_capture_on_commit_callbacks):
    """Tasks enqueued by saving credentials, tokens, imports and checks carry ids only: read them raw in
    Redis, unconsumed."""
    require_services(postgres=False)
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued_before = set(client.lrange("celery", 0, -1))
    before = len(_redis_messages(client))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            planted = plant(world, sim)
        messages = _redis_messages(client)
    finally:
        # The rows these messages name are rolled back with the test: leave nothing for a later test's worker.
        for message in set(client.lrange("celery", 0, -1)) - queued_before:
            client.lrem("celery", 1, message)
    tasks = [json.loads(m).get("headers", {}).get("task") for k, m in messages if k == "celery"]
    assert len(messages) > before and {"integrations.sync_secret", "integrations.palette_check"} <= set(
        tasks
    ), f"the planting should have queued sync and check tasks on Redis; found {tasks}"
    hits = []
    for key, message in messages:
        hits += [f"redis {key}: {h}" for h in find_canaries(_decoded(message), planted.needles)]
    assert not hits, "\n".join(hits)
    # Control: the decoder sees task arguments (the Secret ids) in the bodies.
    bodies = "\n".join(_decoded(m) for k, m in messages if k == "celery")
    from integrations.models import Secret

    secret_ids = {s.pk for s in Secret.objects.all()}
    assert any(f"[[{pk}]" in bodies.replace(" ", "") for pk in secret_ids)
