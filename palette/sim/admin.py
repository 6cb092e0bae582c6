"""The simulator's admin endpoint, outside ``/v1``: change the world at runtime.

All routes need the simulator's primary API key in the ``ApiKey`` header. JSON in, JSON out.

- ``GET /__sim__/state``: projects, host counts by state, clusters, settings.
- ``GET /__sim__/stats``: requests served, by status and by rate-limit prefix.
- ``POST /__sim__/hosts`` ``{count, projectUid, uid, name, labels, state, health, healthMessage,
  arch, gpu}``: add hosts (201 ``{uids}``). Values are served as given, NULs and all: Palette does
  not clean what an edge host reports, so neither does the simulator.
- ``PATCH /__sim__/hosts/{uid}`` ``{labels, addLabels, removeLabels, state, health,
  healthMessage}``: change a host (state ``unpaired`` -> ``ready`` pairs it).
- ``DELETE /__sim__/hosts/{uid}``: remove a host.
- ``POST /__sim__/fail-next-create`` ``{status, code, message}`` (the create answers that error),
  ``{stage: "provisioning"}`` (the cluster is created but never gets past Provisioning) or
  ``{stage: "answer"}`` (the cluster is created, then the connection drops before the answer).
- ``PUT /__sim__/faults`` ``{faults: "429:0.2,latency:50ms"}`` / ``DELETE /__sim__/faults``.
- ``PUT /__sim__/settings`` ``{stuckContinue, rateLimit, license (as ``--license``), timings: {pending,
  provisioning, deleting, deletedVisible, forceDeleteAfter, inUseLag, kubeconfigLag}}``: behaviour switches.
- ``PUT /__sim__/profiles/{uid}/variables`` ``{variables: [v1Variable...]}``: a profile version's variables.
- ``POST /__sim__/keys`` ``{key, projects, readOnly, name, expiry, active, forbidden}``: accept another API
  key (``forbidden``: path templates it gets 403 on).
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .calls import ApiError, Reply
from .faults import Faults
from .seeding import make_host
from .state import SimState

if TYPE_CHECKING:
    from .server import Simulator

PREFIX = "/__sim__"


class Admin:
    """Routes of the admin endpoint over a running Simulator."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self._rng = random.Random(sim.seed + 7919)
        self._rng_lock = threading.Lock()
        self._counter = 0

    @property
    def state(self) -> SimState:
        return self.sim.state

    def handle(self, method: str, path: str, body: Any) -> Reply:
        """Dispatch an admin request (path includes the ``/__sim__`` prefix)."""
        rest = path[len(PREFIX) :].strip("/")
        parts = [unquote(p) for p in rest.split("/")] if rest else []
        body = body if isinstance(body, dict) else {}
        try:
            if parts == ["state"] and method == "GET":
                return Reply(
                    body={**self.state.summary(), "url": self.sim.url, "faults": self.sim.faults.faults.spec}
                )
            if parts == ["stats"] and method == "GET":
                return Reply(body=self.sim.stats())
            if parts == ["hosts"] and method == "POST":
                return Reply(status=201, body={"uids": self.add_hosts(body)})
            if len(parts) == 2 and parts[0] == "hosts" and method == "PATCH":
                host = self.state.update_host(
                    parts[1],
                    labels=body.get("labels"),
                    add_labels=body.get("addLabels"),
                    remove_labels=body.get("removeLabels"),
                    state=body.get("state"),
                    health=body.get("health"),
                    health_message=body.get("healthMessage"),
                )
                return Reply(
                    body={"uid": host.uid, "state": host.state, "health": host.health, "labels": host.labels}
                )
            if len(parts) == 2 and parts[0] == "hosts" and method == "DELETE":
                self.state.remove_host(parts[1])
                return Reply(status=204)
            if parts == ["fail-next-create"] and method == "POST":
                with self.state.lock:
                    self.state.fail_next_create = dict(body) or {"status": 500}
                return Reply(status=204)
            if parts == ["faults"] and method in ("PUT", "DELETE"):
                faults = Faults.parse(body.get("faults", "") if method == "PUT" else "")
                self.sim.faults.set(faults)
                return Reply(body={"faults": faults.spec})
            if parts == ["settings"] and method == "PUT":
                return Reply(body=self.settings(body))
            if parts == ["keys"] and method == "POST":
                if not body.get("key"):
                    raise ValueError("key is required")
                self.state.add_key(
                    body["key"],
                    projects=body.get("projects"),
                    read_only=bool(body.get("readOnly")),
                    name=str(body.get("name") or ""),
                    expiry=str(body.get("expiry") or ""),
                    active=body.get("active", True) is not False,
                    forbidden=[str(t) for t in body.get("forbidden") or ()],
                )
                return Reply(status=201, body={"key": "accepted"})
            if len(parts) == 3 and parts[0] == "profiles" and parts[2] == "variables" and method == "PUT":
                return Reply(body=self.set_variables(parts[1], body.get("variables")))
        except KeyError as exc:
            raise ApiError(404, "ResourceNotFound", f"not found: {exc.args[0]}") from None
        except ValueError as exc:
            raise ApiError(400, "InvalidRequest", str(exc)) from None
        raise ApiError(404, 404, f"path {path} was not found")

    def add_hosts(self, body: dict[str, Any]) -> list[str]:
        """Create hosts from the admin body (realistic defaults, fields overridden)."""
        count = int(body.get("count", 1))
        if not 1 <= count <= 10000:
            raise ValueError("count must be between 1 and 10000")
        with self.state.lock:
            project_uid = body.get("projectUid") or next(iter(self.state.projects))
            uids = []
            for i in range(count):
                with self._rng_lock:
                    self._counter += 1
                    host = make_host(self._rng, 900000 + self._counter, project_uid)
                if body.get("uid"):
                    host.uid = host.name = body["uid"] if count == 1 else f"{body['uid']}-{i}"
                if "name" in body:
                    host.name = str(body["name"])
                if "labels" in body:
                    host.labels = {str(k): str(v) for k, v in body["labels"].items()}
                if body.get("arch") in ("amd64", "arm64"):
                    host.arch = body["arch"]
                if body.get("gpu") is False:
                    host.gpus = []
                    host.labels.pop("gpu-enabled", None)
                host.state = body.get("state", "ready")
                if host.state not in ("ready", "unpaired"):
                    raise ValueError("a new host is ready or unpaired")
                host.health = body.get("health", "healthy")
                host.health_message = "" if host.health == "healthy" else "edge host agent heartbeat missed"
                if "healthMessage" in body:
                    host.health_message = str(body["healthMessage"])
                host.created = host.modified = ""
                uids.append(self.state.add_host(host).uid)
            return uids

    def settings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply behaviour switches and return the current values."""
        with self.state.lock:
            if "stuckContinue" in body:
                self.state.stuck_continue = bool(body["stuckContinue"])
                self.state.touch()
            if "rateLimit" in body:
                self.sim.rate_limit = bool(body["rateLimit"])
            if "license" in body:
                self.state.set_license(body["license"])
            t = self.state.timings
            for key, attr in self.TIMINGS:
                if key in (body.get("timings") or {}):
                    setattr(t, attr, float(body["timings"][key]))
            return {
                "stuckContinue": self.state.stuck_continue,
                "rateLimit": self.sim.rate_limit,
                "license": self.state.license_state,
                "timings": {key: getattr(t, attr) for key, attr in self.TIMINGS},
            }

    #: The timings the settings route changes: JSON key, Timings attribute.
    TIMINGS = (
        ("pending", "pending"),
        ("provisioning", "provisioning"),
        ("deleting", "deleting"),
        ("deletedVisible", "deleted_visible"),
        ("forceDeleteAfter", "force_delete_after"),
        ("inUseLag", "in_use_lag"),
        ("kubeconfigLag", "kubeconfig_lag"),
    )

    def set_variables(self, uid: str, variables: Any) -> dict[str, Any]:
        """Replace a profile version's variables (v1Variable items: at least a name each)."""
        if not isinstance(variables, list) or not all(
            isinstance(v, dict) and v.get("name") for v in variables
        ):
            raise ValueError("variables must be a list of objects with a name")
        with self.state.lock:
            self.state.profiles[uid].variables = [dict(v) for v in variables]
            self.state.touch()
        return {"uid": uid, "variables": variables}
