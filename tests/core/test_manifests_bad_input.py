"""Manifests: every bad value gets a message that says where and what to fix, nothing is written, no secret is
echoed."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from core.manifests import MAX_BYTES, apply_text
from core.models import AuditEntry
from tenancy.models import Project, Tenant
from tests.core.test_manifests import CA_PEM, CANARY, KEY_PEM, V1A1, apply_ok, dump, example, palette_json


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def added(doc: dict):
    return lambda docs: docs.append(doc)


def setting(path: str, value):
    """A change that sets docs[i][a][b] = value, for path "i/a/b" (keys such as ca.crt hold dots)."""
    index, *keys = path.split("/")

    def change(docs):
        target = docs[int(index)]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def removing(path: str):
    index, *keys = path.split("/")

    def change(docs):
        if not keys:
            del docs[int(index)]
            return
        target = docs[int(index)]
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


PROJECT = {
    "apiVersion": V1A1,
    "kind": "Project",
    "metadata": {"name": "other", "namespace": "kube-system"},
    "spec": {"tenantRef": {"name": "acme"}, "displayName": "Other"},
}
TENANT_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "tenant-palette", "namespace": "tenant-acme"},
    "stringData": {
        "palette": json.dumps(
            {"apiKey": "ANOTHERkey123456", "hostUrl": "palette.example.com", "tenant": "acme"}
        )
    },
}

# (id, change to the DESIGN example, "document N (Kind ns/name): path", fragment of the message)
CASES = [
    (
        "bad-name",
        added({"apiVersion": V1A1, "kind": "Tenant", "metadata": {"name": "Bad_Name"}, "spec": {}}),
        "document 8 (Tenant Bad_Name): metadata.name",
        "Use lowercase letters, digits and '-'",
    ),
    (
        "name-too-long",
        added({"apiVersion": V1A1, "kind": "Tenant", "metadata": {"name": "a" * 57}, "spec": {}}),
        f"document 8 (Tenant {'a' * 57}): metadata.name",
        "at most 56 characters",
    ),
    (
        "reserved-namespace",
        added(PROJECT),
        "document 8 (Project kube-system/other): metadata.namespace",
        "Namespace 'kube-system' is reserved for the system; choose another name.",
    ),
    (
        "mural-system",
        added({**PROJECT, "metadata": {"name": "other", "namespace": "mural-system"}}),
        "document 8 (Project mural-system/other): metadata.namespace",
        "reserved for the system",
    ),
    (
        "tenant-namespace-as-project",
        added({**PROJECT, "metadata": {"name": "other", "namespace": "tenant-acme"}}),
        "document 8 (Project tenant-acme/other): metadata.namespace",
        "tenant-acme is tenant acme's namespace; a project needs its own.",
    ),
    (
        "unknown-kind",
        added({"apiVersion": V1A1, "kind": "Foo", "metadata": {"name": "x"}}),
        "document 8 (Foo x): kind",
        "unknown kind 'Foo'; this tool manages Tenant, Project, Secret, Settings",
    ),
    (
        "missing-kind",
        added({"apiVersion": V1A1, "metadata": {"name": "x"}}),
        "document 8: kind",
        "required: one of Tenant",
    ),
    (
        "bad-api-version",
        setting("0/apiVersion", "spectrocloud.com/v2"),
        "document 1 (Tenant acme): apiVersion",
        "Tenant needs apiVersion spectrocloud.com/v1alpha1 ('spectrocloud.com/v2').",
    ),
    (
        "secret-api-version",
        setting("3/apiVersion", V1A1),
        "document 4 (Secret primary-dev/palette-api-secret): apiVersion",
        "Secret needs apiVersion v1",
    ),
    (
        "missing-name",
        added({"apiVersion": V1A1, "kind": "Tenant", "metadata": {}, "spec": {}}),
        "document 8 (Tenant): metadata.name",
        "required: add it.",
    ),
    (
        "metadata-not-mapping",
        added({"apiVersion": V1A1, "kind": "Tenant", "metadata": "acme", "spec": {}}),
        "document 8 (Tenant): metadata",
        "required: a mapping with name.",
    ),
    (
        "namespaced-tenant",
        setting("0/metadata/namespace", "acme"),
        "document 1 (Tenant acme): metadata.namespace",
        "Tenant is cluster-scoped: remove metadata.namespace.",
    ),
    (
        "missing-namespace",
        added(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "x"},
                "stringData": {"ca.crt": CA_PEM},
            }
        ),
        "document 8 (Secret x): metadata.namespace",
        "required: the namespace of the tenant or project the Secret belongs to.",
    ),
    (
        "unknown-top-level",
        setting("0/specs", {}),
        "document 1 (Tenant acme): specs",
        "unknown field; a Tenant has apiVersion, kind, metadata, spec.",
    ),
    (
        "unknown-metadata",
        setting("0/metadata/nmae", "x"),
        "document 1 (Tenant acme): metadata.nmae",
        "unknown field",
    ),
    (
        "unknown-spec-field",
        setting("0/spec/gpuLimits", 3),
        "document 1 (Tenant acme): spec.gpuLimits",
        "unknown field; expected displayName, description, gpuLimit, settingsRef, tenantRoleMapping.",
    ),
    (
        "spec-not-mapping",
        setting("0/spec", "big"),
        "document 1 (Tenant acme): spec",
        "must be a mapping (key: value), not text.",
    ),
    (
        "gpu-limit-text",
        setting("0/spec/gpuLimit", "16"),
        "document 1 (Tenant acme): spec.gpuLimit",
        "must be a whole number, not text.",
    ),
    (
        "gpu-limit-bool",
        setting("0/spec/gpuLimit", True),
        "document 1 (Tenant acme): spec.gpuLimit",
        "must be a whole number, not true/false.",
    ),
    (
        "gpu-limit-negative",
        setting("0/spec/gpuLimit", -1),
        "document 1 (Tenant acme): spec.gpuLimit",
        "must be between 0 and 100000.",
    ),
    (
        "project-over-tenant-limit",
        setting("1/spec/gpuLimit", 100),
        "document 2 (Project primary-dev/primary-dev): spec.gpuLimit",
        "tenant acme allows at most 64 GPUs",
    ),
    (
        "display-name-number",
        setting("1/spec/displayName", 7),
        "document 2 (Project primary-dev/primary-dev): spec.displayName",
        "must be a string, not a number; put the value in quotes.",
    ),
    (
        "unknown-tenant",
        setting("1/spec/tenantRef/name", "nobody"),
        "document 2 (Project primary-dev/primary-dev): spec.tenantRef.name",
        "there is no Tenant nobody; add it to this file or create it first.",
    ),
    (
        "missing-tenant-ref",
        removing("1/spec/tenantRef"),
        "document 2 (Project primary-dev/primary-dev): spec.tenantRef",
        "required: add it.",
    ),
    (
        "missing-settings",
        setting("1/spec/settingsRef/name", "other"),
        "document 2 (Project primary-dev/primary-dev): spec.settingsRef.name",
        "there are no Settings other in namespace primary-dev; add them to this file or create them first.",
    ),
    (
        "tenant-settings-ref-namespace",
        setting("0/spec/settingsRef", {"name": "x", "namespace": "primary-dev"}),
        "document 1 (Tenant acme): spec.settingsRef.namespace",
        "a tenant's Settings live in its namespace: use tenant-acme.",
    ),
    (
        "settings-without-palette",
        removing("2/spec/palette"),
        "document 3 (Settings primary-dev/dev-settings): spec.palette",
        "required: every Settings needs the Palette integration",
    ),
    (
        "settings-unknown-integration",
        setting("2/spec/openai", {"secretRef": {"name": "x"}}),
        "document 3 (Settings primary-dev/dev-settings): spec.openai",
        "unknown field; expected palette, huggingFace, nvidiaNgc.",
    ),
    (
        "settings-missing-secret",
        removing("5"),
        "document 3 (Settings primary-dev/dev-settings): spec.huggingFace.secretRef.name",
        "Secret hf-token does not exist in namespace primary-dev; add it to this file or create it first.",
    ),
    (
        "settings-secret-without-key",
        setting("2/spec/huggingFace/secretRef/name", "ngc-key"),
        "document 3 (Settings primary-dev/dev-settings): spec.huggingFace.secretRef.name",
        "Secret ngc-key has no huggingface key",
    ),
    (
        "two-settings-in-a-namespace",
        added(
            {
                "apiVersion": V1A1,
                "kind": "Settings",
                "metadata": {"name": "more", "namespace": "primary-dev"},
                "spec": {"palette": {"secretRef": {"name": "palette-api-secret"}}},
            }
        ),
        "document 8 (Settings primary-dev/more): metadata.name",
        "document 3 already defines Settings dev-settings in primary-dev",
    ),
    (
        "duplicate-document",
        lambda docs: docs.append(copy.deepcopy(docs[0])),
        "document 8 (Tenant acme): metadata.name",
        "document 1 already defines this Tenant; keep one.",
    ),
    (
        "orphan-namespace",
        added(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "x", "namespace": "nowhere"},
                "stringData": {"ca.crt": CA_PEM},
            }
        ),
        "document 8 (Secret nowhere/x): metadata.namespace",
        "no tenant or project owns namespace nowhere",
    ),
    (
        "bad-base64",
        setting("4/data/ca.crt", "!!! not base64 !!!"),
        "document 5 (Secret primary-dev/palette-ca): data.ca.crt",
        "not valid base64: encode the value with `base64 -w0`, or write it as plain text under stringData.",
    ),
    (
        "binary-base64",
        setting("4/data/ca.crt", b64(b"\xff\xfe\x00binary")),
        "document 5 (Secret primary-dev/palette-ca): data.ca.crt",
        "decodes to binary data, not text",
    ),
    (
        "data-not-mapping",
        setting("4/data", ["x"]),
        "document 5 (Secret primary-dev/palette-ca): data",
        "must be a mapping of key: value, not a list.",
    ),
    (
        "empty-secret",
        setting("6/stringData", {}),
        "document 7 (Secret primary-dev/ngc-key): stringData",
        "the Secret is empty; add one of the keys palette, ca.crt, huggingface, nvidia.",
    ),
    (
        "tls-secret-type",
        setting("4/type", "kubernetes.io/tls"),
        "document 5 (Secret primary-dev/palette-ca): type",
        "integration Secrets are of type Opaque; write type: Opaque.",
    ),
    (
        "unknown-secret-key",
        setting("5/stringData/hf", "x"),
        "document 6 (Secret primary-dev/hf-token): stringData.hf",
        "unknown key; an integration Secret holds palette",
    ),
    (
        "unquoted-json",
        setting("3/stringData/palette", {"apiKey": "x"}),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette",
        "must be a string, not a mapping. Quote the JSON ('{...}') or use a block scalar (|).",
    ),
    (
        "labels-not-strings",
        setting("5/metadata/labels", {"tier": 1}),
        "document 6 (Secret primary-dev/hf-token): metadata.labels",
        "must map strings to strings",
    ),
    (
        "palette-not-json",
        setting("3/stringData/palette", "{apiKey: x"),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette",
        "The 'palette' key must hold a JSON object: Expecting property name enclosed in double quotes.",
    ),
    (
        "palette-json-list",
        setting("3/stringData/palette", "[1, 2]"),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette",
        "must hold a JSON object with apiKey, hostUrl, tenant and defaultProjectID",
    ),
    (
        "palette-unknown-field",
        setting("3/stringData/palette", palette_json(apikey="x")),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette",
        "Unknown field(s) apikey in the 'palette' JSON",
    ),
    (
        "project-name-as-uid",
        setting("3/stringData/palette", palette_json(defaultProjectID="primary-dev")),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette.defaultProjectID",
        "'primary-dev' looks like a project name, not its UID.",
    ),
    (
        "http-host",
        setting("3/stringData/palette", palette_json(hostUrl="http://palette.example.com")),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette.hostUrl",
        "Use https://.",
    ),
    (
        "skip-ssl-not-bool",
        setting("3/stringData/palette", palette_json(skipSSLCertificateVerification="yes")),
        "document 4 (Secret primary-dev/palette-api-secret): "
        "stringData.palette.skipSSLCertificateVerification",
        "must be true or false",
    ),
    (
        "missing-ca-secret",
        setting("3/stringData/palette", palette_json(tlsSecretRef="missing-ca")),
        "document 4 (Secret primary-dev/palette-api-secret): stringData.palette.tlsSecretRef",
        "Secret missing-ca does not exist in namespace primary-dev; add it (with key ca.crt) to this file "
        "or create it first.",
    ),
    (
        "ca-is-private-key",
        setting("4/data/ca.crt", b64(KEY_PEM)),
        "document 5 (Secret primary-dev/palette-ca): data.ca.crt",
        "This text contains a private key. Paste only the CA certificate",
    ),
    (
        "ca-not-pem",
        setting("4/data/ca.crt", b64("hello")),
        "document 5 (Secret primary-dev/palette-ca): data.ca.crt",
        "No PEM certificate found",
    ),
    (
        "redacted-placeholder",
        setting("6/stringData/nvidia", "REDACTED"),
        "document 7 (Secret primary-dev/ngc-key): stringData.nvidia",
        "holds the placeholder REDACTED written by export; put the real value here, "
        "or export with --show-secrets.",
    ),
    (
        "hf-json-wrong-field",
        setting("5/stringData/huggingface", '{"tok": "x"}'),
        "document 6 (Secret primary-dev/hf-token): stringData.huggingface",
        'must hold a JSON object with only "token"',
    ),
    (
        "ngc-blank-key",
        setting("6/stringData/nvidia", '{"apiKey": " "}'),
        "document 7 (Secret primary-dev/ngc-key): stringData.nvidia.apiKey",
        "must be a non-empty string without spaces",
    ),
    (
        "tenant-palette-incomplete",
        added(TENANT_SECRET),
        "document 8 (Secret tenant-acme/tenant-palette): stringData.palette.defaultProjectID",
        "The 'palette' JSON is missing defaultProjectID.",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("change, where, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_it_explains_each_bad_value_and_writes_nothing(change, where, fragment):
    docs = copy.deepcopy(example())
    change(docs)
    errors = apply_text(dump(docs), source="f.yaml").errors
    assert errors, "the bad value was accepted"
    assert errors[0].startswith(f"f.yaml: {where}: ") and fragment in errors[0], errors
    assert len(errors) == 1, errors  # no knock-on messages in other documents
    assert not Tenant.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_it_accepts_a_partial_palette_secret_in_a_project_namespace():
    # A project's own connection comes whole (host, key, CA); the tenant and project fields inherit.
    docs = example()
    docs[3]["stringData"]["palette"] = json.dumps(
        {"apiKey": "ANOTHERkey123456", "hostUrl": "https://palette.example.com", "tlsSecretRef": "palette-ca"}
    )
    apply_ok(docs)


@pytest.mark.django_db
def test_it_refuses_a_project_connection_without_its_host():
    docs = example()
    docs[3]["stringData"]["palette"] = json.dumps(
        {"apiKey": "ANOTHERkey123456", "tlsSecretRef": "palette-ca"}
    )
    errors = apply_text(dump(docs), source="f.yaml").errors
    assert (
        len(errors) == 1
        and "stringData.palette: a project's own Palette connection needs hostUrl too" in errors[0]
    ), errors


@pytest.mark.django_db
def test_it_refuses_skipping_tls_verification_when_the_install_forbids_it(settings):
    settings.ALLOW_INSECURE_PALETTE_TLS = False
    docs = example()
    docs[3]["stringData"]["palette"] = palette_json(skipSSLCertificateVerification=True)
    assert apply_text(dump(docs), source="f.yaml").errors == [
        "f.yaml: document 4 (Secret primary-dev/palette-api-secret): "
        "stringData.palette.skipSSLCertificateVerification: Skipping TLS "
        "verification is refused here (ALLOW_INSECURE_PALETTE_TLS=false); add the CA certificate instead."
    ]


@pytest.mark.django_db
def test_it_refuses_renaming_settings():
    apply_ok(example())
    docs = example()
    docs[2]["metadata"]["name"] = "new-settings"
    docs[1]["spec"]["settingsRef"]["name"] = "new-settings"
    assert apply_text(dump(docs), source="f.yaml").errors == [
        "f.yaml: document 3 (Settings primary-dev/new-settings): metadata.name: "
        "namespace primary-dev already has Settings dev-settings, "
        "and a Settings name cannot be changed: use name dev-settings (or delete those Settings first)."
    ]


@pytest.mark.django_db
def test_it_refuses_moving_a_project_or_sharing_its_namespace(world):
    docs = [
        {
            "apiVersion": V1A1,
            "kind": "Project",
            "metadata": {"name": "research", "namespace": "moved"},
            "spec": {"tenantRef": {"name": "acme"}},
        },
        {
            "apiVersion": V1A1,
            "kind": "Project",
            "metadata": {"name": "intruder", "namespace": "globex-ops"},
            "spec": {"tenantRef": {"name": "acme"}},
        },
    ]
    assert apply_text(dump(docs), source="f.yaml").errors == [
        "f.yaml: document 1 (Project moved/research): metadata.namespace: "
        "project acme/research already exists with namespace "
        "acme-research; a project's namespace cannot be changed.",
        "f.yaml: document 2 (Project globex-ops/intruder): metadata.namespace: "
        "namespace globex-ops already belongs to project "
        "globex/ops; a project's tenant, name and namespace cannot be changed. Use another namespace.",
    ]
    assert Project.objects.count() == 2


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("apiVersion: v1\nkind: [Secret\n", "f.yaml: line 3, column 1: not valid YAML: "),
        (
            "kind: Tenant\n\tmetadata: {}\n",
            "f.yaml: line 2, column 1: not valid YAML: found character '\\t' that cannot start any token",
        ),
        (
            "kind: Tenant\nkind: Project\n",
            "f.yaml: line 2, column 1: not valid YAML: duplicate key 'kind'; keep one.",
        ),
        ("", "f.yaml: no manifests found: the file is empty or holds only comments."),
        ("# only a comment\n---\n---\n", "f.yaml: no manifests found"),
        ("[" * 100000, "f.yaml: the YAML is nested too deeply to be a manifest."),
        (
            "a: !!python/object/apply:os.system ['true']\n",
            "not valid YAML: could not determine a constructor for the tag",
        ),
        (
            "---\nhello\n",
            "f.yaml: document 1: a manifest must be a mapping with apiVersion, kind and metadata, not text.",
        ),
        ("---\n42\n", "not a number."),
        ("x" * (MAX_BYTES + 1), "f.yaml: the file is larger than 1024 KiB; split it into several files."),
        ("{kind: Tenant}\n---\n" * 501, "f.yaml: more than 500 documents; split the file."),
    ],
)
def test_it_explains_a_file_it_cannot_read(text, fragment, db):
    errors = apply_text(text, source="f.yaml").errors
    assert len(errors) == 1 and fragment in errors[0], errors


def test_it_refuses_bytes_that_are_not_utf8(db):
    assert apply_text(b"kind: \xff\xfe\n", source="f.yaml").errors == ["f.yaml: the file is not UTF-8 text."]


@pytest.mark.django_db
def test_it_refuses_yaml_aliases_with_their_place():
    text = (
        f"apiVersion: {V1A1}\nkind: Tenant\nmetadata: {{name: acme}}\n"
        "spec:\n  displayName: &n Acme\n  description: *n\n"
    )
    errors = apply_text(text, source="f.yaml").errors
    assert errors == [
        "f.yaml: line 6, column 16: not valid YAML: aliases (*name) are not accepted in manifests; "
        "write the value out."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        setting(
            "3/stringData/palette", palette_json(defaultProjectID=CANARY)
        ),  # echoed by the project-name hint
        setting("3/stringData/palette", palette_json(apiKey=CANARY + " with spaces")),
        setting("3/stringData/palette", '{"apiKey": "' + CANARY + '"'),
        setting("4/data/ca.crt", CANARY),
        setting("5/stringData/huggingface", CANARY),
        setting("3/stringData", {"palette": palette_json(), "token": CANARY}),
    ],
    ids=["uid-hint", "spaces", "truncated-json", "base64", "hf-not-json", "unknown-key"],
)
def test_it_never_echoes_a_secret_value(change):
    docs = copy.deepcopy(example())
    change(docs)
    errors = apply_text(dump(docs), source="f.yaml").errors
    assert errors and "CANARY" not in "\n".join(errors), errors


def test_it_does_not_echo_a_secret_from_a_yaml_syntax_error(db):
    text = f'apiVersion: v1\nkind: Secret\nstringData:\n  palette: \'{{"apiKey": "{CANARY}"}}\n  x: [\n'
    errors = apply_text(text, source="f.yaml").errors
    assert len(errors) == 1 and "not valid YAML" in errors[0] and "CANARY" not in errors[0]
