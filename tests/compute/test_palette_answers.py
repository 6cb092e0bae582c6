"""Provisioning against Palette's answers as Palette gives them (issue 11 items 4 and 5), task bodies called
as functions.

The kubeconfig: an empty file until the overview's hasKubeConfig turns true, the admin kubeconfig first, then
the client one, then the plain one; a text that is not a kubeconfig is refused, never stored and never quoted.
Validate: host problems as a 4xx or as machine pool results, constraint errors shown as Palette words them.

Everything goes over HTTPS to the simulator, which checks every request and response against Palette's spec.
Where Palette's answer is one the simulator does not give by itself (an asset missing, a body that is not a
kubeconfig), the simulator's own route for it answers that instead (`sim.api.routes`), still over HTTPS and
still checked.
"""

from __future__ import annotations

import dataclasses
import logging

from django.urls import reverse

from compute.models import ComputePool, PoolStep
from compute.provisioning import run_step
from compute.provisioning.steps import MAX_EXCLUDED_HOSTS
from palette.sim.calls import ApiError, Reply
from tests.compute.pool_fixtures import FAST, drive, fast_sim, new_pool, pool_project  # noqa: F401

ASSET = "/v1/spectroclusters/{uid}/assets/"
ADMIN, CLIENT, PLAIN = ASSET + "adminKubeconfig", ASSET + "kubeconfigclient", ASSET + "kubeconfig"


def answer(sim, monkeypatch, template: str, *replies, then=None, method: str = "GET") -> list:
    """Answer the simulator's route `template` with `replies` in turn (a Reply, a text served as the file, or
    an ApiError raised), then with `then` for every later call (by default the simulator's own answer).
    Returns the calls (the simulator's Call: path, query, ...), as they arrive."""
    key = (method, template)
    original = sim.api.routes[key]
    queue, calls = list(replies), []

    def handler(call):
        calls.append(call)
        reply = queue.pop(0) if queue else (then if then is not None else original)
        if isinstance(reply, ApiError):
            raise reply
        if isinstance(reply, str):
            return Reply(
                body=reply,
                content_type="application/octet-stream",
                headers={"Content-Disposition": 'attachment; filename="cluster.kubeconfig"'},
            )
        return reply(call) if callable(reply) else reply

    monkeypatch.setitem(sim.api.routes, key, handler)
    return calls


def asset_calls(sim, name: str) -> list:
    return [r for r in sim.seen() if r.method == "GET" and r.path.endswith(f"/assets/{name}")]


def _kubeconfig_step(pool) -> PoolStep:
    return PoolStep.objects.get(pool=pool, attempt=pool.attempt, name="kubeconfig")


def _kubeconfig_retried(pool) -> bool:
    return PoolStep.objects.filter(
        pool=pool, attempt=pool.attempt, name="kubeconfig", retries__gte=1
    ).exists()


def _secret_free(pool, *secrets: str) -> None:
    """None of `secrets` in anything the pool or its steps show."""
    pool.refresh_from_db()
    shown = [pool.wait_reason, pool.failure_message, str(pool.last_seen)]
    for row in PoolStep.objects.filter(pool=pool):
        shown += [row.detail, row.first_error, row.last_error]
    for secret in secrets:
        assert not any(secret in text for text in shown), secret


# -- the kubeconfig ------------------------------------------------------------------------------


def test_it_waits_for_has_kube_config_and_stores_the_admin_kubeconfig(world, pool_project, fast_sim):
    fast_sim.state.timings = dataclasses.replace(FAST, kubeconfig_lag=1.5)
    pool = drive(new_pool(pool_project), until=lambda p: p.step == "kubeconfig")
    cluster = fast_sim.state.clusters[pool.cluster_uid]
    assert fast_sim.state.cluster_state(cluster) == "Running" and not fast_sim.state.kubeconfig_ready(cluster)
    assert "hasKubeConfig false" in pool.wait_reason
    # Running and Healthy, the asset still an empty file: the step waits, downloads nothing, stores nothing.
    following = run_step(pool.pk, pool.tick)
    pool.refresh_from_db()
    assert (
        following is not None
        and pool.status == ComputePool.RUNNING
        and pool.kubeconfig == "" == pool.kubeconfig_kind
    )
    assert "hasKubeConfig false" in pool.wait_reason and "waiting" in _kubeconfig_step(pool).detail
    assert pool.last_seen["condition"] == "no kubeconfig yet: hasKubeConfig is false"
    assert asset_calls(fast_sim, "adminKubeconfig") == []

    pool = drive(pool)
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert fast_sim.state.kubeconfig_ready(cluster)
    assert pool.kubeconfig_kind == "admin" and "client-certificate-data:" in pool.kubeconfig
    assert pool.kubeconfig.startswith("apiVersion: v1\nkind: Config\n")
    # Downloaded once, when Palette had it; the other kinds never asked for.
    assert len(asset_calls(fast_sim, "adminKubeconfig")) == 1
    assert asset_calls(fast_sim, "kubeconfigclient") == asset_calls(fast_sim, "kubeconfig") == []
    step = _kubeconfig_step(pool)
    assert step.status == PoolStep.SUCCEEDED and step.retries == 0
    assert step.detail.startswith("Admin kubeconfig (adminKubeconfig) stored encrypted")
    page = world.client_for(world.editor).get(
        reverse("compute:pool_detail", args=["acme", "research", pool.uuid])
    )
    assert "stored encrypted: Palette's admin kubeconfig (adminKubeconfig)" in page.content.decode()


def test_an_empty_kubeconfig_is_never_stored_and_the_pool_is_ready_when_a_valid_one_arrives(
    pool_project, fast_sim, monkeypatch
):
    # hasKubeConfig true, yet every asset still an empty file for two downloads (the flag and the file
    # disagree).
    for template in (ADMIN, CLIENT, PLAIN):
        answer(fast_sim, monkeypatch, template, "", " \n")
    pool = drive(new_pool(pool_project), until=_kubeconfig_retried)
    assert pool.status == ComputePool.RUNNING and pool.kubeconfig == "" and pool.kubeconfig_kind == ""
    step = _kubeconfig_step(pool)
    assert step.status == PoolStep.RUNNING
    assert step.first_error == (
        "Palette gave no valid kubeconfig yet (adminKubeconfig: the file is empty; "
        "kubeconfigclient: the file is empty; kubeconfig: the file is empty); "
        "the pool is Ready only with one"
    )
    assert "retrying in" in pool.wait_reason and "no valid kubeconfig" in pool.last_seen["condition"]

    pool = drive(pool)
    assert pool.status == ComputePool.READY and pool.kubeconfig_kind == "admin"
    assert "client-certificate-data:" in pool.kubeconfig
    step = _kubeconfig_step(pool)
    assert step.retries == 2 and step.status == PoolStep.SUCCEEDED
    assert len(asset_calls(fast_sim, "adminKubeconfig")) == 3


def test_it_falls_back_to_the_client_kubeconfig_when_palette_has_no_admin_one(
    world, pool_project, fast_sim, monkeypatch
):
    missing = ApiError(404, "ResourceNotFound", "admin kubeconfig of the cluster not found")
    calls = answer(fast_sim, monkeypatch, ADMIN, then=missing)
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY, (pool.failure_class, pool.failure_message)
    assert pool.kubeconfig_kind == "client" and "oidc-login" in pool.kubeconfig
    assert len(calls) == 1 and calls[0].query == {} and len(asset_calls(fast_sim, "kubeconfigclient")) == 1
    assert asset_calls(fast_sim, "kubeconfig") == []
    step = _kubeconfig_step(pool)
    assert step.retries == 0
    assert step.detail == (
        "Client (OIDC) kubeconfig (kubeconfigclient) stored encrypted "
        f"({len(pool.kubeconfig.splitlines())} lines) (adminKubeconfig: HTTP 404 admin kubeconfig "
        "of the cluster not found)."
    )
    page = world.client_for(world.editor).get(
        reverse("compute:pool_detail", args=["acme", "research", pool.uuid])
    )
    assert "Palette's client (OIDC) kubeconfig (kubeconfigclient)" in page.content.decode()


def test_it_falls_back_to_the_plain_kubeconfig_when_the_key_may_not_read_the_others(
    pool_project, fast_sim, monkeypatch
):
    forbidden = ApiError(403, "Forbidden", "Permission denied: spectrocluster.adminKubeconfigDownload")
    answer(fast_sim, monkeypatch, ADMIN, then=forbidden)
    answer(fast_sim, monkeypatch, CLIENT, then=ApiError(404, "ResourceNotFound", "no OIDC configured"))
    plain = answer(fast_sim, monkeypatch, PLAIN)
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY and pool.kubeconfig_kind == "kubeconfig"
    assert f"token: simulated-{pool.cluster_uid}" in pool.kubeconfig
    # The plain one is asked for as Palette documents it (frp=true: through its reverse proxy when it has
    # one).
    assert [(c.path, c.query) for c in plain] == [
        (f"/v1/spectroclusters/{pool.cluster_uid}/assets/kubeconfig", {"frp": "true"})
    ]
    assert "adminKubeconfig: HTTP 403 Permission denied" in _kubeconfig_step(pool).detail


def test_it_fails_as_credentials_when_palette_refuses_every_kubeconfig(pool_project, fast_sim, monkeypatch):
    for template in (ADMIN, CLIENT, PLAIN):
        answer(fast_sim, monkeypatch, template, then=ApiError(403, "Forbidden", "Permission denied"))
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED and pool.failure_class == "credentials"
    assert pool.kubeconfig == "" and pool.kubeconfig_kind == ""
    assert "Palette refused every kubeconfig" in pool.failure_message


def test_a_text_that_is_not_a_kubeconfig_is_refused_and_never_quoted(
    pool_project, fast_sim, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    login_page = "<html><body>Sign in to continue (session s3cr3t-html)</body></html>"
    no_clusters = (
        "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: a\n  user: {token: s3cr3t-users}\n"
    )
    broken = "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user: {token: s3cr3t-yaml\n"
    answer(fast_sim, monkeypatch, ADMIN, login_page)
    answer(fast_sim, monkeypatch, CLIENT, no_clusters)
    answer(fast_sim, monkeypatch, PLAIN, broken)
    pool = drive(new_pool(pool_project), until=_kubeconfig_retried)
    assert pool.status == ComputePool.RUNNING and pool.kubeconfig == ""
    assert _kubeconfig_step(pool).first_error == (
        "Palette gave no valid kubeconfig yet (adminKubeconfig: it is not a YAML mapping but a string; "
        "kubeconfigclient: it lists no clusters; kubeconfig: it is not YAML (line 6)); the pool is Ready "
        "only with one"
    )
    pool = drive(pool)
    assert (
        pool.status == ComputePool.READY
        and pool.kubeconfig_kind == "admin"
        and "s3cr3t" not in pool.kubeconfig
    )
    _secret_free(pool, "s3cr3t", "Sign in", "<html>")
    assert "s3cr3t" not in caplog.text and "client-certificate-data" not in caplog.text


# -- validate ------------------------------------------------------------------------------------


def _require_site_code(sim) -> None:
    """Palette's copy of edge-k3s-infra 1.3.0 now has a required variable the synced copy does not know of."""
    profile = next(
        p for p in sim.state.profiles.values() if p.name == "edge-k3s-infra" and p.version == "1.3.0"
    )
    profile.variables = [
        {"name": "site_code", "displayName": "Site code", "format": "string", "required": True}
    ]


def test_constraint_errors_fail_the_pool_verbatim_per_pack(pool_project, fast_sim):
    _require_site_code(fast_sim)
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED and pool.failure_class == "rejected"
    error = (
        "profile edge-k3s-infra 1.3.0: [VariableRequired] variable 'site_code' of profile edge-k3s-infra is "
        "required"
    )
    assert pool.failure_message == f"Palette's validation refused the request: {error}"
    validate = PoolStep.objects.get(pool=pool, name="validate")
    assert validate.status == PoolStep.FAILED and validate.detail == f"Palette's validation answered: {error}"
    assert pool.excluded_hosts == [] and pool.cluster_uid == ""
    assert not [c for c in fast_sim.state.clusters.values() if c.name == pool.cluster_name]


def test_host_and_constraint_errors_in_the_body_are_shown_per_machine_pool_and_pack_without_replanning(
    pool_project, fast_sim
):
    from compute.readiness import report_for_pool

    pool = new_pool(pool_project)
    chosen = report_for_pool(pool).hosts["control-plane"][0]
    fast_sim.state.update_host(chosen, health="unhealthy", health_message="NTP not synchronised")
    fast_sim.state.validate_host_problems = "results"
    _require_site_code(fast_sim)
    pool = drive(pool)
    # Excluding the host would not fix the profile: the pool fails with both errors, each where Palette put
    # it.
    assert (
        pool.status == ComputePool.FAILED and pool.failure_class == "rejected" and pool.excluded_hosts == []
    )
    machine_pool = next(
        p["poolConfig"]["name"]
        for p in pool.request["spec"]["machinepoolconfig"]
        if chosen in [h["hostUid"] for h in p["cloudConfig"]["edgeHosts"]]
    )
    assert pool.failure_message == (
        f"Palette's validation refused the request: machine pool {machine_pool}: [EdgeHostUnhealthy] edge "
        f"host '{chosen}' is unhealthy: NTP not synchronised; profile edge-k3s-infra 1.3.0: "
        "[VariableRequired] variable 'site_code' of profile edge-k3s-infra is required"
    )


def test_it_gives_up_replanning_after_max_excluded_hosts(pool_project, fast_sim):
    pool = new_pool(pool_project)
    ComputePool.objects.filter(pk=pool.pk).update(
        excluded_hosts=[f"gone-{i}" for i in range(MAX_EXCLUDED_HOSTS)]
    )
    from compute.readiness import report_for_pool

    pool.refresh_from_db()
    chosen = report_for_pool(pool).hosts["control-plane"][0]
    fast_sim.state.update_host(chosen, health="unhealthy", health_message="disk failing")
    pool = drive(pool)
    assert pool.status == ComputePool.FAILED and pool.failure_class == "capacity"
    assert (
        f"HTTP 400 EdgeHostUnhealthy: edge host '{chosen}' is unhealthy: disk failing" in pool.failure_message
    )
    assert (
        f"at most {MAX_EXCLUDED_HOSTS} are excluded" in pool.failure_message
        and chosen not in pool.excluded_hosts
    )
