"""Hostile input, generated: no input makes the parsers raise anything but their own error, or a view answer
500.

Hypothesis drives the manifest parser (core.manifests.apply_text/delete_text, dry run), the Palette
integration form and its view, the CA parser (integrations.certificates.parse_ca_bundle), the
Compute Pool spec parser (compute.spec.parse_spec), its form and view, the tag parsers and the
inventory grid's query parameters. Inputs are both arbitrary and valid documents with one or more
values replaced, which reaches the deep validation code. Example counts stay modest (2 CPU cores).
"""

from __future__ import annotations

import base64
import copy
import json

import pytest
import yaml
from django.urls import reverse
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.compute.pool_fixtures import ED25519, manifest_spec

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# Pure functions (no database, no HTTP) get more examples for the same time.
FUZZ_PURE = settings(FUZZ, max_examples=100)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            "true",
            "0",
            "-1",
            "acme",
            "research",
            "acme-research",
            "tenant-acme",
            "globex-ops",
            "kube-system",
            "10.20.99.10",
            "NVIDIA-A100",
            "amd64",
            "999999999999",
            "x" * 300,
            "é\u0000\ud7ff",
            "1e309",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every path (tuple of keys and indexes) into a nested structure."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


def mutated(base):
    """Strategy: `base` with one to three values replaced by anything, or removed."""

    @st.composite
    def strategy(draw):
        doc = copy.deepcopy(base)
        for _ in range(draw(st.integers(1, 3))):
            paths = [p for p in _paths(doc) if p]
            if not paths:
                break
            path = draw(st.sampled_from(paths))
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(values)
        return doc

    return strategy()


PALETTE_JSON = json.dumps(
    {
        "apiKey": "fuzz-key-0123456789",
        "hostUrl": "https://palette.example.com",
        "tenant": "acme",
        "defaultProjectID": "65f0a1b2c3d4e5f60718293a",
        "skipSSLCertificateVerification": False,
    }
)
VALID_MANIFESTS = [
    {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "fuzz"},
        "spec": {"displayName": "Fuzz", "gpuLimit": 8},
    },
    {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "Project",
        "metadata": {"name": "lab", "namespace": "fuzz-lab"},
        "spec": {
            "tenantRef": {"name": "fuzz"},
            "displayName": "Lab",
            "settingsRef": {"name": "lab-settings"},
            "gpuLimit": 4,
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "lab-palette", "namespace": "fuzz-lab"},
        "type": "Opaque",
        "stringData": {"palette": PALETTE_JSON},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "lab-hf", "namespace": "fuzz-lab"},
        "type": "Opaque",
        "data": {
            "huggingface": base64.b64encode(b'{"token": "hf_0123456789abcdefghijklmnopqrstuvwx"}').decode()
        },
    },
    {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "Settings",
        "metadata": {"name": "lab-settings", "namespace": "fuzz-lab"},
        "spec": {
            "palette": {"secretRef": {"name": "lab-palette"}},
            "huggingFace": {"secretRef": {"name": "lab-hf"}},
        },
    },
    {
        "apiVersion": "spectrocloud.com/v1beta1",
        "kind": "ProfileBundle",
        "metadata": {"name": "edge-infra", "namespace": "fuzz-lab"},
        "spec": {
            "type": "Infrastructure",
            "version": "1",
            "clusterProfiles": [
                {"uid": "0a1b2c3d4e5f60718293a4b5", "name": "edge-k3s-infra", "version": "1.3.0"}
            ],
        },
    },
    {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "ComputePool",
        "metadata": {"name": "gpu-pool-a", "namespace": "fuzz-lab"},
        "spec": manifest_spec(),
    },
]


def _has_nul(value) -> bool:
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return "\x00" in str(value)


def _dump(documents) -> str:
    try:
        return yaml.safe_dump_all(documents, sort_keys=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        return "\n---\n".join(repr(d) for d in documents)


def _counts():
    from django.apps import apps

    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in ("tenancy", "integrations", "compute")
    }


def _assert_result(result) -> None:
    assert isinstance(result.errors, list) and all(isinstance(e, str) for e in result.errors)
    assert result.ok == (not result.errors)


@FUZZ
@given(text=st.text(max_size=3000) | st.binary(max_size=2000))
def test_it_parses_arbitrary_text_as_a_manifest_without_crashing(world, text):
    from core.manifests import apply_text, delete_text

    before = _counts()
    _assert_result(apply_text(text, dry_run=True))
    _assert_result(delete_text(text, dry_run=True))
    assert _counts() == before


@FUZZ
@given(
    documents=st.lists(
        st.sampled_from(range(len(VALID_MANIFESTS))), min_size=1, max_size=7, unique=True
    ).flatmap(lambda picks: st.tuples(*[mutated(VALID_MANIFESTS[i]) for i in picks])),
    who=st.sampled_from(["cli", "owner", "viewer", "outsider"]),
)
def test_it_validates_mutated_manifests_without_crashing(world, documents, who):
    from core.manifests import apply_text, delete_text

    user = None if who == "cli" else getattr(world, who)
    before = _counts()
    text = _dump(list(documents))
    _assert_result(apply_text(text, user=user, dry_run=True))
    _assert_result(delete_text(text, user=user, dry_run=True))
    assert _counts() == before, "a dry run wrote to the database"


@pytest.mark.parametrize("path", ["spec.displayName", "metadata.labels", "spec.description"])
def test_it_refuses_nul_characters_in_manifests(world, path):
    """Found by the property test on PostgreSQL (text and JSON columns cannot hold NUL): a DataError, i.e. a
    500, before."""
    from core.manifests import apply_text

    doc = copy.deepcopy(VALID_MANIFESTS[1])
    if path == "metadata.labels":
        doc["metadata"]["labels"] = {"team\x00": "a"}
    else:
        doc["spec"][path.split(".")[1]] = "a\x00b"
    for user in (None, world.owner):
        result = apply_text(_dump([VALID_MANIFESTS[0], doc]), user=user, dry_run=user is None)
        assert result.errors and not result.changes
        assert any("NUL character" in e for e in result.errors) or user is not None, result.errors


def test_it_applies_the_unmutated_manifests(world):
    """Control: the seed documents are valid, so the mutations above start from documents that reach deep
    validation."""
    from core.manifests import apply_text

    result = apply_text(_dump(VALID_MANIFESTS[:5]), dry_run=True)
    assert result.ok, result.errors


palette_fields = st.fixed_dictionaries(
    {},
    optional={
        "settings_name": st.text(max_size=70) | st.sampled_from(["acme-settings", "x", "-bad-"]),
        "host_url": st.text(max_size=80)
        | st.sampled_from(
            [
                "palette.example.com",
                "https://api.spectrocloud.com/v1",
                "http://x",
                "https://[::1]:99999",
                "https://user:pw@h",
                "https://h?x=1",
                "ftp://h",
                "https://h#f",
                "https://1.2.3.4",
                "[",
                "https://[::1",
                "https://[zz]/",
                "h:0",
                "https://h:99999",
            ]
        ),
        "api_key": st.text(max_size=80),
        "tenant": st.text(max_size=140),
        "default_project_id": st.text(max_size=140)
        | st.sampled_from(["65f0a1b2c3d4e5f60718293a", "Default"]),
        "tls": st.sampled_from(["verify", "skip", "inherit", "", "bogus"]),
        "ca_pem": st.text(max_size=400)
        | st.sampled_from(
            [
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
                "PRIVATE KEY-----",
            ]
        ),
        "remove_ca": st.sampled_from(["on", "", "false"]),
    },
)


@FUZZ
@given(
    data=palette_fields,
    scope=st.sampled_from(["tenant", "project"]),
    inherits=st.booleans(),
    has_ca=st.booleans(),
)
def test_it_validates_any_palette_form_input_without_crashing(world, data, scope, inherits, has_ca):
    from integrations.forms import PaletteIntegrationForm

    owner = world.project_a if scope == "project" else world.tenant_a
    form = PaletteIntegrationForm(
        data,
        owner=owner,
        current={},
        has_settings=False,
        inherits={"tenant": "acme"} if inherits else None,
        has_ca=has_ca,
    )
    form.is_valid()
    assert isinstance(form.errors, dict)


@FUZZ
@given(data=palette_fields, scope=st.sampled_from(["tenant", "project"]), htmx=st.booleans())
@example(
    data={"host_url": "https://[::1", "api_key": "x" * 20}, scope="tenant", htmx=False
)  # was a 500 (urlsplit ValueError)
def test_it_never_answers_500_to_palette_form_posts(world, data, scope, htmx):
    client = world.client_for(world.owner)
    url = (
        reverse("integrations:project_palette_save", args=["acme", "research"])
        if scope == "project"
        else reverse("integrations:tenant_palette_save", args=["acme"])
    )
    assume(not _has_nul(data))  # the test client cannot send NUL in form fields; browsers do not either
    response = client.post(url, data, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
    assert response.status_code < 500


PALETTE_VALUES = json.loads(PALETTE_JSON) | {"tlsSecretRef": "lab-ca"}


@FUZZ_PURE
@given(value=mutated(PALETTE_VALUES) | values, partial=st.booleans(), names=st.booleans())
def test_it_parses_any_palette_json_without_crashing(value, partial, names):
    from integrations.credentials import CredentialError, parse_palette_json

    for text in (json.dumps(value), str(value)):
        try:
            parse_palette_json(text, partial=partial, allow_project_name=names)
        except CredentialError as exc:
            assert str(exc) and exc.field


@FUZZ_PURE
@given(
    host=st.text(max_size=40)
    | st.sampled_from(
        ["[", "]", "https://[::1", "https://[zz]/", "h:0", "http://h", "https://h:65536", "//h"]
    )
)
def test_it_normalizes_any_host_url_or_says_what_is_wrong(host):
    from integrations.credentials import CredentialError, normalize_host_url

    try:
        assert normalize_host_url(host).startswith("https://")
    except CredentialError as exc:
        assert exc.field == "hostUrl"


def _pem(body: bytes, kind: str = "CERTIFICATE") -> str:
    b64 = base64.encodebytes(body).decode()
    return f"-----BEGIN {kind}-----\n{b64}-----END {kind}-----\n"


def _real_ca_der() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import load_pem_x509_certificate

    from tests.integrations.conftest import make_cert

    return load_pem_x509_certificate(make_cert("fuzz-ca")[0].encode()).public_bytes(
        serialization.Encoding.DER
    )


REAL_DER = _real_ca_der()


@st.composite
def damaged_der(draw):
    data = bytearray(REAL_DER)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


ca_inputs = (
    st.text(max_size=2000)
    | st.binary(max_size=2000)
    | st.binary(max_size=600).map(_pem)
    | damaged_der().map(_pem)
    | st.tuples(damaged_der().map(_pem), st.just(_pem(REAL_DER))).map("".join)
    | st.sampled_from(
        ["CERTIFICATE", "PRIVATE KEY", "EC PRIVATE KEY", "X509 CRL", "CERTIFICATE REQUEST"]
    ).map(lambda kind: _pem(REAL_DER, kind))
)


@FUZZ_PURE
@given(text=ca_inputs)
def test_it_parses_any_ca_input_without_crashing(text):
    from integrations.certificates import CertificateError, CertificateInfo, parse_ca_bundle

    try:
        infos = parse_ca_bundle(text)
    except CertificateError as exc:
        assert str(exc)
    else:
        assert infos and all(isinstance(i, CertificateInfo) for i in infos)


def test_it_refuses_certificates_that_once_crashed_the_parser():
    """Found by the property test above: a damaged subject, a damaged issuer, an invalid version (500s before
    the fix)."""
    from pathlib import Path

    from integrations.certificates import CertificateError, parse_ca_bundle

    for pem in json.loads((Path(__file__).parent / "damaged_certificates.json").read_text()):
        with pytest.raises(CertificateError, match="not a valid X.509 certificate"):
            parse_ca_bundle(pem)


def test_it_accepts_the_undamaged_ca():
    """Control: the damaged certificates above start from one the parser accepts."""
    from integrations.certificates import parse_ca_bundle

    assert parse_ca_bundle(_pem(REAL_DER))[0].subject == "CN=fuzz-ca"


VALID_POOL = manifest_spec(
    workers=[
        {
            "name": "gpu",
            "nodeCount": 2,
            "architecture": "amd64",
            "cpu": {"cpuCount": 8},
            "memory": {"memoryMiB": 32768},
            "gpu": {"family": "NVIDIA-A100", "gpuCount": 1, "gpuMemory": 40960},
        }
    ]
)


@FUZZ_PURE
@given(spec=mutated(VALID_POOL) | values, name=st.text(max_size=40) | st.just("gpu-pool-a"))
@example(spec=VALID_POOL, name="gpu-pool-a")  # the round trip below always runs at least once
def test_it_parses_any_pool_spec_without_crashing(spec, name):
    from compute.spec import parse_spec

    pool, problems = parse_spec(spec, name=name, namespace="acme-research")
    problems = list(problems)
    assert all(isinstance(path, str) and isinstance(message, str) and message for path, message in problems)
    if pool is None:
        assert problems, "an unusable spec must say why"
    elif not problems:
        # A spec read without problems is complete: what export writes for it reads back the same, without
        # problems.
        again, more = parse_spec(pool.to_manifest()["spec"], name=name, namespace="acme-research")
        assert (again, list(more)) == (pool, [])


def test_it_accepts_the_unmutated_pool_spec():
    from compute.spec import parse_spec

    pool, problems = parse_spec(VALID_POOL, name="gpu-pool-a", namespace="acme-research")
    assert pool is not None and not list(problems)


text_or_number = (
    st.text(max_size=30)
    | st.integers(-(10**12), 10**12).map(str)
    | st.sampled_from(["1e400", "NaN", "-0", "0.0000001", "inf"])
)
pool_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=40) | st.just("gpu-pool-a"),
        "description": st.text(max_size=50),
        "variant": st.sampled_from(["dedicated", "shared", "x"]),
        "bundle": st.sampled_from(["acme-bundle", "nope", ""]),
        "cp_count": text_or_number | st.sampled_from(["1", "3", "5"]),
        "cp_worker_eligible": st.sampled_from(["on", ""]),
        "cp_architecture": st.sampled_from(["amd64", "arm64", "sparc"]),
        "cp_cpu": text_or_number,
        "cp_memory_gib": text_or_number,
        "cp_groups": st.text(max_size=40) | st.sampled_from(["palette.ai=true", "a=b,=c", "k=", "=", ",,,"]),
        "worker_name": st.text(max_size=20) | st.just("gpu"),
        "worker_count": text_or_number,
        "worker_architecture": st.sampled_from(["amd64", "z"]),
        "worker_cpu": text_or_number,
        "worker_memory_gib": text_or_number,
        "worker_gpu_family": st.text(max_size=20) | st.just("NVIDIA-A100"),
        "worker_gpu_count": text_or_number,
        "worker_gpu_memory_gib": text_or_number,
        "worker_groups": st.text(max_size=40),
        "vip": st.text(max_size=20)
        | st.sampled_from(["10.20.99.10", "10.20.99.11", "::1", "256.1.1.1", "0.0.0.0"]),
        "ssh_keys": st.text(max_size=200)
        | st.sampled_from([ED25519, "ssh-rsa AAAA", ED25519 + "\n" + ED25519]),
        "deletion_policy": st.sampled_from(["delete", "orphan", "burn"]),
    },
)


@pytest.fixture
def bundle(world):
    from compute.models import ProfileBundle

    return ProfileBundle.objects.create(
        project=world.project_a,
        name="acme-bundle",
        bundle_type="Infrastructure",
        version="1",
        profiles=[
            {"uid": "0a1b2c3d4e5f60718293a4b5", "name": "edge-k3s-infra", "version": "1.3.0", "type": "infra"}
        ],
    )


@FUZZ
@given(data=pool_fields)
def test_it_validates_any_pool_form_input_without_crashing(world, bundle, data):
    from compute.forms.pools import PoolForm

    form = PoolForm(data, project=world.project_a)
    if form.is_valid():
        assert form.spec is not None
    assert isinstance(form.errors, dict)


@FUZZ
@given(data=pool_fields, action=st.sampled_from(["check", "create"]), htmx=st.booleans())
def test_it_never_answers_500_to_pool_form_posts(world, bundle, data, action, htmx):
    assume(not _has_nul(data))
    client = world.client_for(world.editor)
    response = client.post(
        reverse("compute:pool_create", args=["acme", "research"]),
        {**data, action: "1"},
        **({"HTTP_HX_REQUEST": "true"} if htmx else {}),
    )
    assert response.status_code < 500


@FUZZ_PURE
@given(add=st.text(max_size=60), remove=st.text(max_size=60))
def test_it_parses_any_tag_input_without_crashing(add, remove):
    from compute.tagging import TagInputError, parse_add, parse_remove

    for parse, text in ((parse_add, add), (parse_remove, remove)):
        try:
            parse(text)
        except TagInputError as exc:
            assert str(exc)


tag_texts = st.text(alphabet="ab_:.-/=%[(*\\'\"", max_size=16) | st.sampled_from(
    [
        "a__isnull:foo",
        "a__regex:(",
        "a__contains:x",
        "a__in:x",
        "__:x",
        ":x",
        "a__gt:1",
        "palette.ai:true",
        "palette.ai",
        "k:" + "v" * 300,
    ]
)
grid_params = st.fixed_dictionaries(
    {},
    optional={
        "tag": st.lists(tag_texts, max_size=3),
        "status": st.text(max_size=10),
        "health": st.text(max_size=10),
        "arch": st.text(max_size=10),
        "gpu": st.text(max_size=10) | st.just("%"),
        "eligible": st.sampled_from(["yes", "no", "maybe"]),
        "gone": st.sampled_from(["1", "0", "x"]),
        "q": st.text(max_size=20) | st.just("%_\\"),
        "sort": st.sampled_from(
            ["name", "-cpu", "cluster", "-cluster", "-", "--name", "tags", "-uid__x", "pk"]
        )
        | st.text(max_size=10),
        "page": st.sampled_from(["1", "0", "-1", "last", "99999999999999999999", "1.5", ""]),
    },
)


@FUZZ
@given(params=grid_params, htmx=st.booleans())
@example(
    params={"tag": ["a__contains:x", "a__regex:("]}, htmx=False
)  # was a 500: the tag key chose the SQL lookup
def test_it_never_answers_500_to_inventory_queries(world, params, htmx):
    assume(not _has_nul(params))
    client = world.client_for(world.viewer)
    response = client.get(
        reverse("compute:inventory", args=["acme", "research"]),
        params,
        **({"HTTP_HX_REQUEST": "true"} if htmx else {}),
    )
    assert response.status_code < 500
