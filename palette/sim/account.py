"""Tenant-level reads: API keys, the system activation (license) and the pack registries.

- ``GET /v1/apiKeys``: each key with ``spec.expiry`` and ``status.isActive``; the key's value is shown
  once, at creation, and never listed (librarium create-api-key.md; docs/palette-behaviour.md §1).
- ``GET /v1/activations/system``: ``status.state`` Active / Pending / Inactive and ``status.expiresAt``,
  "only for UI to show the banner" (the spec's description); see ``state.LICENSE_STATES``. A SaaS Palette
  (``--license saas``) answers 404.
- ``GET /v1/registries/metadata`` and ``/v1/registries/pack/summary``: the pack registries, with their
  ``isPrivate`` / ``isDefault`` flags, filtered by ``scope`` (system, tenant, all); see
  docs/palette-behaviour.md §16.
All three run in tenant scope (a ``ProjectUid`` is ignored).
"""

from __future__ import annotations

from collections.abc import Callable

from . import render, search
from .calls import ApiError, Call, Handlers, Reply, limit_offset, not_found
from .state import SAAS


class AccountApi(Handlers):
    """The tenant-level operations over a SimState."""

    def routes(self) -> dict[tuple[str, str], Callable[[Call], Reply]]:
        return {
            ("GET", "/v1/apiKeys"): self.api_keys,
            ("GET", "/v1/apiKeys/{uid}"): self.api_key,
            ("GET", "/v1/activations/system"): self.activation,
            ("GET", "/v1/registries/metadata"): self.registries_metadata,
            ("GET", "/v1/registries/pack/summary"): self.pack_registries,
        }

    def api_keys(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body={"items": [render.api_key(self.state, k) for k in self.state.keys.values()]})

    def api_key(self, call: Call) -> Reply:
        with self.state.lock:
            policy = next((k for k in self.state.keys.values() if k.uid == call.params["uid"]), None)
            if policy is None:
                raise not_found("ApiKey", call.params["uid"])
            return Reply(body=render.api_key(self.state, policy))

    def activation(self, call: Call) -> Reply:
        if self.state.license_state == SAAS:
            # SaaS Palette has no system activation; how it answers is not documented
            # (docs/palette-behaviour.md §16) [inferred].
            raise ApiError(
                404, "ResourceNotFound", "System activation not found: this Palette is not self-hosted"
            )
        status = {"state": self.state.license_state}
        if self.state.license_expires:
            status["expiresAt"] = self.state.license_expires
        return Reply(body={"status": status})

    def registries_metadata(self, call: Call) -> Reply:
        with self.state.lock:
            items = [
                {
                    "uid": r.uid,
                    "name": r.name,
                    "kind": r.kind,
                    "scope": r.scope,
                    "isPrivate": r.private,
                    "isDefault": r.default,
                }
                for r in render.registries(self.state, call.query.get("scope", "all"))
            ]
        return Reply(body={"items": items})

    def pack_registries(self, call: Call) -> Reply:
        limit, offset = limit_offset(call)
        with self.state.lock:
            found = render.registries(self.state, call.query.get("scope", "all"))
            chunk, listmeta = search.page(found, limit=limit, offset=offset)
            items = [
                {
                    "metadata": {
                        "uid": r.uid,
                        "name": r.name,
                        "labels": {},
                        "annotations": {"scope": r.scope},
                    },
                    "spec": {"endpoint": r.endpoint, "private": r.private, "scope": r.scope},
                    "status": {"sync": {"isSyncSupported": True, "status": "Success", "message": ""}},
                }
                for r in chunk
            ]
        return Reply(body={"items": items, "listmeta": listmeta})
