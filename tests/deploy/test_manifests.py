"""The Kubernetes manifests in deploy/, the Dockerfile and .dockerignore, checked offline.

No cluster and no Docker here: every YAML file is parsed and checked for what can be known without
running it — kinds, probes, resources, non-root security contexts, secrets only as placeholders and
files, RBAC limited to Secrets, pinned images, configuration keys the settings really read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .envvars import ROOT, settings_variables

DEPLOY = ROOT / "deploy"
SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ADMIN_PASSWORD"}
RBAC_VERBS = {"get", "list", "create", "update", "patch", "delete"}


def _load() -> dict[str, list[dict]]:
    files = {}
    for path in sorted(DEPLOY.glob("*.y*ml")):
        files[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return files


FILES = _load()
DOCS = [d for name, docs in FILES.items() if name != "kustomization.yaml" for d in docs]


def of_kind(kind: str) -> list[dict]:
    return [d for d in DOCS if d["kind"] == kind]


def component(name: str) -> dict:
    found = [
        d
        for d in DOCS
        if d["kind"] in ("Deployment", "Job")
        and d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == name
    ]
    assert len(found) == 1, f"expected one workload with component {name}"
    return found[0]


WORKLOADS = [d for d in DOCS if d["kind"] in ("Deployment", "Job")]
CONTAINERS = [
    (w["metadata"]["name"], w["spec"]["template"]["spec"], c)
    for w in WORKLOADS
    for c in w["spec"]["template"]["spec"].get("initContainers", [])
    + w["spec"]["template"]["spec"]["containers"]
]


def test_it_parses_every_manifest_with_the_kinds_a_deployment_needs():
    assert FILES, "deploy/ has no YAML"
    for doc in DOCS:
        assert {"apiVersion", "kind", "metadata"} <= set(doc) and doc["metadata"].get("name"), doc
    kinds = [d["kind"] for d in DOCS]
    for kind in (
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Job",
        "Service",
    ):
        assert kind in kinds, f"deploy/ lacks a {kind}"
    for name in ("web", "worker", "beat", "migrate"):
        component(name)
    namespace = of_kind("Namespace")[0]["metadata"]["name"]
    for doc in DOCS:
        if doc["kind"] not in ("Namespace", "ClusterRole", "RoleBinding"):
            assert doc["metadata"].get("namespace") == namespace, (
                f"{doc['kind']} {doc['metadata']['name']} is not in {namespace}"
            )
    assert of_kind("Namespace")[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _schema_problems(value, type_name: str, path: str) -> list[str]:
    """Check `value` against the official client's model for `type_name` (every key known, scalar types
    right)."""
    from kubernetes.client import models

    if type_name.startswith("List["):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            p for i, item in enumerate(value) for p in _schema_problems(item, type_name[5:-1], f"{path}[{i}]")
        ]
    if type_name.startswith("Dict["):
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        inner = type_name[5:-1].split(", ", 1)[1]
        return [p for k, v in value.items() for p in _schema_problems(v, inner, f"{path}.{k}")]
    scalars = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if type_name in scalars:
        ok = isinstance(value, scalars[type_name]) and not (type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {value!r}"]
    if type_name in ("object", "datetime", "date"):
        return []
    model = getattr(models, type_name)
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} mapping"]
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    problems = []
    for key, child in value.items():
        if key not in by_json:
            problems.append(f"{path}.{key}: unknown field of {type_name}")
        else:
            problems += _schema_problems(child, model.openapi_types[by_json[key]], f"{path}.{key}")
    return problems


MODELS = {
    "Namespace": "V1Namespace",
    "ServiceAccount": "V1ServiceAccount",
    "ClusterRole": "V1ClusterRole",
    "Role": "V1Role",
    "RoleBinding": "V1RoleBinding",
    "ConfigMap": "V1ConfigMap",
    "Secret": "V1Secret",
    "Deployment": "V1Deployment",
    "Job": "V1Job",
    "Service": "V1Service",
}


def test_it_writes_every_field_as_the_kubernetes_api_defines_it():
    """Offline schema check with the official client's models: a misspelt or misplaced field fails here, not
    at apply time."""
    problems = []
    for doc in DOCS:
        assert doc["kind"] in MODELS, f"no schema known for {doc['kind']}"
        problems += _schema_problems(doc, MODELS[doc["kind"]], f"{doc['kind']}/{doc['metadata']['name']}")
    assert not problems, "\n".join(problems)


def test_it_lists_every_manifest_but_the_secret_template_in_the_kustomization():
    kustomization = FILES["kustomization.yaml"][0]
    resources = set(kustomization["resources"])
    for resource in resources:
        assert (DEPLOY / resource).exists(), f"kustomization names missing {resource}"
    on_disk = {name for name in FILES if name != "kustomization.yaml"}
    assert "secret.template.yaml" not in resources, "the placeholder Secret must never be applied"
    assert on_disk - resources == {"secret.template.yaml"}
    image = kustomization["images"][0]
    assert all(c["image"].split(":")[0] == image["name"] for _, _, c in CONTAINERS)
    assert image["newTag"] and image["newTag"] != "latest"


def test_it_runs_every_container_as_non_root_with_a_read_only_root():
    for workload, pod, container in CONTAINERS:
        where = f"{workload}/{container['name']}"
        pod_ctx = pod["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True and pod_ctx["runAsUser"] > 0, where
        assert pod_ctx["seccompProfile"]["type"] == "RuntimeDefault", where
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx.get("runAsUser", pod_ctx["runAsUser"]) != 0, where
        assert ctx["allowPrivilegeEscalation"] is False, where
        assert ctx["readOnlyRootFilesystem"] is True, where
        assert ctx["capabilities"]["drop"] == ["ALL"] and not ctx["capabilities"].get("add"), where
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
        assert not ctx.get("privileged"), where
        # A read-only root needs somewhere to write temporary files: /tmp from an emptyDir.
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]], f"{where} has no writable /tmp"
        assert (
            not pod.get("hostNetwork")
            and not pod.get("hostPID")
            and not any("hostPath" in v for v in volumes.values())
        ), where


def test_it_sets_resource_requests_and_limits_everywhere():
    for workload, _, container in CONTAINERS:
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[kind]), f"{workload}/{container['name']} lacks {kind}"


def test_it_pins_every_image_to_a_tag():
    for workload, _, container in CONTAINERS:
        image = container["image"]
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), (
            f"{workload}: image {image!r} is not pinned to a tag"
        )
        assert container.get("imagePullPolicy") != "Always"


def test_it_probes_web_on_healthz_and_readyz_with_an_allowed_host():
    web = component("web")["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    config = of_kind("ConfigMap")[0]["data"]
    allowed = [h.strip() for h in config["ALLOWED_HOSTS"].split(",")]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = web[probe]["httpGet"]
        assert get["port"] in ports or get["port"] in ports.values()
        host = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}.get("Host")
        # Django answers 400 to a Host outside ALLOWED_HOSTS: the kubelet's default (the pod IP) would fail.
        assert host in allowed, f"{probe} sends Host {host!r}, not in ALLOWED_HOSTS {allowed}"
    assert "--bind" in web["command"] and any(str(ports["http"]) in part for part in web["command"])
    assert config.get("SECURE_SSL_REDIRECT", "false") == "false", (
        "probes use plain HTTP: an SSL redirect would fail them"
    )


def test_it_serves_web_through_a_service_that_selects_it():
    service = of_kind("Service")[0]
    labels = component("web")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    container_ports = {
        p["name"] for p in component("web")["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert all(p["targetPort"] in container_ports for p in service["spec"]["ports"])


def test_it_runs_the_right_process_in_each_workload():
    command = lambda name: " ".join(component(name)["spec"]["template"]["spec"]["containers"][0]["command"])  # noqa: E731
    assert command("web").startswith("gunicorn paletteai_admin.wsgi")
    assert re.match(r"celery -A paletteai_admin worker\b", command("worker"))
    assert re.match(r"celery -A paletteai_admin beat\b", command("beat"))
    assert "manage.py migrate" in command("migrate") and "manage.py bootstrap" in command("migrate")
    # beat keeps its schedule file somewhere writable (the root filesystem is read-only)
    assert "--schedule /tmp/" in command("beat")
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==", requirements, re.M) and re.search(
        r"^celery\[redis\]==", requirements, re.M
    )


def test_it_runs_beat_exactly_once():
    beat = component("beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate", "a rolling update would run two beats for a while"
    assert component("worker")["spec"]["replicas"] >= 1 and component("web")["spec"]["replicas"] >= 1
    job = component("migrate")
    assert job["kind"] == "Job" and job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_it_keeps_secret_values_out_of_the_manifests():
    template = of_kind("Secret")
    assert len(template) == 1 and not template[0].get("data"), "only stringData placeholders"
    values = template[0]["stringData"]
    assert set(values) == SECRET_KEYS
    for key, value in values.items():
        assert value.startswith("CHANGE-ME"), f"Secret template {key} must be a placeholder, not {value!r}"
    config = of_kind("ConfigMap")[0]["data"]
    assert not set(config) & SECRET_KEYS, "secret values belong in the Secret, not the ConfigMap"
    for key, value in config.items():
        assert not re.search(r"://[^/\s]*:[^/\s]*@", value), f"ConfigMap {key} carries credentials in a URL"
    # Nothing anywhere looks like a real secret: private keys, Fernet keys, passwords in URLs.
    for path in DEPLOY.glob("*.y*ml"):
        text = path.read_text()
        assert "PRIVATE KEY" not in text, path.name
        assert not re.search(r"\b[A-Za-z0-9_-]{43}=", text), (
            f"{path.name} holds something shaped like a Fernet key"
        )
        for url in re.findall(r"[a-z]+://[^\s'\"]+", text):
            user_info = re.match(r"[a-z]+://([^/@]*)@", url)
            assert user_info is None or user_info.group(1) in ("USER:PASSWORD",), (
                f"{path.name}: credentials in {url}"
            )


def test_it_passes_secrets_to_every_process_as_files_only():
    template_keys = set(of_kind("Secret")[0]["stringData"])
    secret_name = of_kind("Secret")[0]["metadata"]["name"]
    for workload, pod, container in CONTAINERS:
        env = {e["name"]: e for e in container.get("env", [])}
        for key in SECRET_KEYS:
            assert key not in env, (
                f"{workload}: {key} must come from a file ({key}_FILE), not an environment value"
            )
        files = {name[:-5]: e["value"] for name, e in env.items() if name.endswith("_FILE")}
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEY"} <= set(files), workload
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        for key, path in files.items():
            folder, _, filename = path.rpartition("/")
            mount = mounts[folder]
            assert mount.get("readOnly") is True
            source = volumes[mount["name"]]["secret"]
            assert source["secretName"] == secret_name and source.get("defaultMode", 0o644) & 0o007 == 0, (
                workload
            )
            items = {i["path"]: i["key"] for i in source["items"]}
            assert items[filename] in template_keys and items[filename] == key, f"{workload}: {path}"
        refs = [r["configMapRef"]["name"] for r in container.get("envFrom", []) if "configMapRef" in r]
        assert refs == [of_kind("ConfigMap")[0]["metadata"]["name"]]
        assert not any("secretRef" in r for r in container.get("envFrom", [])), (
            "no Secret as plain environment"
        )


def test_it_configures_only_variables_the_settings_read():
    """A misspelt key in the ConfigMap would be silently ignored: every key must be one settings.py reads."""
    known = settings_variables()
    unknown = sorted(set(of_kind("ConfigMap")[0]["data"]) - known)
    assert not unknown, f"ConfigMap keys the settings never read: {unknown}"
    config = of_kind("ConfigMap")[0]["data"]
    assert (
        config["SECURE"] == "true"
        and config["ALLOW_INSECURE_PALETTE_TLS"] == "false"
        and config["DEBUG"] == "false"
    )


def test_it_limits_rbac_to_secrets_in_paletteai_namespaces():
    assert not of_kind("ClusterRoleBinding"), "a ClusterRoleBinding would open every Secret of the cluster"
    roles = of_kind("ClusterRole") + of_kind("Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert rule["apiGroups"] == [""] and rule["resources"] == ["secrets"], (
                f"{role['metadata']['name']}: {rule}"
            )
            assert set(rule["verbs"]) <= RBAC_VERBS and "*" not in rule["verbs"], rule
            assert "nonResourceURLs" not in rule and "*" not in rule.get("resourceNames", [])
    service_account = of_kind("ServiceAccount")[0]["metadata"]
    role_names = {(r["kind"], r["metadata"]["name"]) for r in roles}
    bindings = of_kind("RoleBinding")
    assert bindings
    app_namespace = of_kind("Namespace")[0]["metadata"]["name"]
    for binding in bindings:
        namespace = binding["metadata"]["namespace"]
        assert namespace not in (app_namespace, "default", "kube-system", "kube-public", "mural-system"), (
            namespace
        )
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in role_names
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": service_account["name"],
                "namespace": service_account["namespace"],
            }
        ]
    # The token is mounted only where the Kubernetes API is used.
    mounts = {
        name: component(name)["spec"]["template"]["spec"].get("automountServiceAccountToken")
        for name in ("web", "worker", "beat", "migrate")
    }
    assert mounts == {"web": True, "worker": True, "beat": False, "migrate": False}
    assert of_kind("ServiceAccount")[0].get("automountServiceAccountToken") is False


# Dockerfile ---------------------------------------------------------------------------------------
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.strip().startswith("#")
]


def test_it_builds_from_python_slim_and_installs_exactly_requirements_txt():
    stages = [line.split()[1] for line in INSTRUCTIONS if line.upper().startswith("FROM ")]
    assert stages[-1].startswith("python:3.11-slim"), "the final stage is the Python image"
    assert all(":" in s and not s.endswith(":latest") for s in stages), stages
    installs = [line for line in INSTRUCTIONS if "pip install" in line]
    assert installs == [next(line for line in INSTRUCTIONS if "pip install" in line)], "one pip install"
    assert re.search(r"pip install --no-cache-dir -r requirements\.txt\s*$", installs[0]), installs[0]
    assert "requirements-dev" not in DOCKERFILE
    assert "COPY requirements.txt" in DOCKERFILE


def test_it_builds_front_end_assets_with_npm_ci_and_copies_what_settings_serve():
    assert any(line.startswith("RUN npm ci") for line in INSTRUCTIONS)
    from django.conf import settings

    for entry in settings.STATICFILES_DIRS:
        folder = Path(entry[1] if isinstance(entry, tuple) else entry)
        relative = folder.relative_to(ROOT).as_posix()
        if relative.startswith("node_modules/"):
            assert re.search(
                rf"COPY --from=\S+ \S*{re.escape(relative)} \S*{re.escape(relative)}", DOCKERFILE
            ), f"the image lacks {relative}, which settings.STATICFILES_DIRS serves"
    assert "collectstatic --no-input" in DOCKERFILE


def test_it_runs_the_image_as_a_non_root_user():
    users = [line.split()[1] for line in INSTRUCTIONS if line.upper().startswith("USER ")]
    assert users, "no USER instruction: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid not in ("0", "root") and uid.isdigit(), "a numeric non-root UID (runAsNonRoot can verify it)"
    runs_as = {c[1]["securityContext"]["runAsUser"] for c in CONTAINERS}
    assert runs_as == {int(uid)}, "the manifests and the image agree on the UID"
    cmd = next(line for line in INSTRUCTIONS if line.upper().startswith(("CMD", "ENTRYPOINT")))
    assert "gunicorn" in cmd and "paletteai_admin.wsgi" in cmd


def test_it_builds_with_dummy_keys_only():
    """The build-time keys exist so the settings import during collectstatic; they must be obvious dummies."""
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        values = re.findall(rf"{name}=(\S+)", DOCKERFILE)
        assert values, name
        for value in values:
            assert "build-only" in value or set(value.rstrip("=")) <= {"M", "D", "A", "w"}, (
                f"{name}={value} looks real"
            )
    assert not re.search(r"^\s*ENV\s+.*(SECRET_KEY|FIELD_ENCRYPTION_KEY|PASSWORD)", DOCKERFILE, re.M), (
        "no secret baked into ENV"
    )


@pytest.mark.parametrize("entry", [".git", ".venv", "node_modules", ".local", "*.sqlite3", "tests"])
def test_it_keeps_local_state_out_of_the_build_context(entry):
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert entry in ignored, (
        f".dockerignore must exclude {entry} (generated keys, databases, the host's packages)"
    )
