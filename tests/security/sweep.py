"""The URL conf, enumerated: one concrete URL per pattern, pointing at tenant acme's objects.

`routes()` walks `get_resolver()` recursively through every include. `cases()` turns each route
into requestable URLs by filling its keyword arguments from `AcmeObjects`; a keyword argument the
sweep does not know raises `UnknownKwarg`, so a new view with a new kind of object makes the sweep
fail until it is taught which object the argument names — new views are never silently skipped.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Covered elsewhere: authentication pages and probes (tests in this folder and tests/core), the
# Django admin (tests/core/test_admin.py), static files (whitenoise, outside the URL conf).
SKIP_NAMES = {"login", "logout", "healthz", "readyz", "favicon", "metrics"}  # public or token-only by design
# Single sign-on's own steps: public like the login page (404 while OIDC is not configured); tested in
# tests/tenancy/test_oidc.py and tests/browser/test_oidc_login.py.
SKIP_QUALIFIED = {"tenancy:oidc_login", "tenancy:oidc_callback"}
SKIP_NAMESPACES = {"admin"}
SKIP_PREFIXES = ("static/", "django-admin/")

# What a POST carries in the sweep: names of acme's objects, so a view that takes its target from
# the body (the onboarding wizard's tenant and project pickers) is pointed at acme too.
HOSTILE_BODY = {"tenant": "acme", "project": "research"}

GHOST = {"tenant": "no-such-tenant", "project": "no-such-project"}


class UnknownKwarg(LookupError):
    """A URL keyword argument the sweep cannot fill: add it to `AcmeObjects.value`."""


@dataclass(frozen=True)
class Route:
    """One URL pattern: its namespaced name, its full route text and its keyword arguments (name →
    converter)."""

    name: str | None
    route: str
    converters: tuple[tuple[str, str], ...]

    @property
    def kwargs(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.converters)


@dataclass
class Case:
    """One concrete URL of a route, its kwargs, and the same URL with every object replaced by one that does
    not exist."""

    route: Route
    kwargs: dict
    url: str
    ghost_url: str
    label: str = field(default="")


def _converter_name(converter) -> str:
    return type(converter).__name__.replace("Converter", "").lower() if converter is not None else "str"


def _kwargs_of(pattern) -> list[tuple[str, str]]:
    converters = getattr(pattern, "converters", {}) or {}
    names = list(pattern.regex.groupindex)
    return [(n, _converter_name(converters.get(n))) for n in names]


def routes(
    resolver: URLResolver | None = None,
    namespaces: tuple[str, ...] = (),
    prefix: str = "",
    converters: tuple[tuple[str, str], ...] = (),
) -> list[Route]:
    """Every URL pattern reachable from the root URL conf (minus SKIP_*), with its full route and namespaced
    name."""
    resolver = resolver or get_resolver()
    found: list[Route] = []
    for entry in resolver.url_patterns:
        text = prefix + str(entry.pattern)
        if text.startswith(SKIP_PREFIXES):
            continue
        own = tuple(_kwargs_of(entry.pattern))
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIP_NAMESPACES:
                continue
            spaces = namespaces + ((entry.namespace,) if entry.namespace else ())
            found.extend(routes(entry, spaces, text, converters + own))
        elif isinstance(entry, URLPattern):
            if entry.name in SKIP_NAMES and not namespaces:
                continue
            name = ":".join(namespaces + (entry.name,)) if entry.name else None
            if name in SKIP_QUALIFIED:
                continue
            found.append(Route(name=name, route=text, converters=converters + own))
    return found


class AcmeObjects:
    """At least one object of every kind a URL can name, all in tenant acme (project research).

    `value(kwarg, converter, route, actor)` answers which concrete values a URL keyword argument
    takes; several values (every onboarding step, every token kind) make several cases.
    """

    def __init__(self, world):
        from compute.models import DiscoveryRun, EdgeHost, ProfileBundle, ProfileSync, TagEdit
        from compute.provisioning import create_pool
        from compute.spec import parse_spec
        from integrations.models import OnboardingSession, PaletteCheck
        from integrations.onboarding import STEP_KEYS
        from notifications.models import NotificationRule
        from tenancy.models import Membership

        self.world = world
        self.tenant, self.project = world.tenant_a, world.project_a
        self.membership = Membership.objects.get(user=world.editor, project=self.project)
        done = dict(
            status=PaletteCheck.SUCCEEDED,
            outcome=PaletteCheck.CONNECTED,
            stages=[{"name": "url", "passed": True, "detail": "acme check"}],
        )
        self.tenant_check = PaletteCheck.objects.create(tenant=self.tenant, **done)
        self.project_check = PaletteCheck.objects.create(project=self.project, **done)
        self.host = EdgeHost.objects.create(
            project=self.project,
            uid="acme-host-0001",
            name="acme-host-0001",
            fingerprint="x",
            state="ready",
            health="healthy",
            architecture="amd64",
            cpu_cores=8,
            memory_mib=16384,
            tags={"palette.ai": "true"},
            eligible=True,
        )
        self.discovery_run = DiscoveryRun.objects.create(
            project=self.project, status=DiscoveryRun.SUCCEEDED, hosts_seen=1, added=1
        )
        self.profile_sync = ProfileSync.objects.create(project=self.project, status=ProfileSync.SUCCEEDED)
        self.tag_edit = TagEdit.objects.create(
            project=self.project,
            add={"zone": "a"},
            host_uids=[self.host.uid],
            results={self.host.uid: "ok"},
            status=TagEdit.SUCCEEDED,
            requested_by="owner",
        )
        self.bundle = ProfileBundle.objects.create(
            project=self.project,
            name="acme-bundle",
            bundle_type="Infrastructure",
            version="1",
            profiles=[
                {
                    "uid": "0a1b2c3d4e5f60718293a4b5",
                    "name": "edge-k3s-infra",
                    "version": "1.3.0",
                    "type": "infra",
                }
            ],
        )
        spec, problems = parse_spec(
            {
                "profileBundleRef": {"name": self.bundle.name},
                "clusterVariant": {
                    "controlPlaneResourceGroups": {"palette.ai": "true"},
                    "workerResourceGroups": {"palette.ai": "true"},
                    "dedicated": {
                        "paletteClusterDeploymentConfig": {
                            "cloudType": "edge-native",
                            "vip": "10.20.99.10",
                            "nodePoolRequirements": {
                                "controlPlanePool": {
                                    "nodeCount": 1,
                                    "workerNodeEligible": True,
                                    "architecture": "amd64",
                                },
                                "workerPools": [],
                            },
                        }
                    },
                },
                "sshKeys": [],
                "deletionPolicy": "delete",
            },
            name="acme-pool",
            namespace=self.project.namespace,
        )
        assert not problems, list(problems)
        self.pool = create_pool(self.project, spec, self.bundle, source="test")
        # Onboarding sessions belong to one user: the owner's (everyone else must get 404 on it) and
        # the viewer's own, pointing at acme (a tenant admin demoted to viewer mid-way must get 403).
        steps = list(STEP_KEYS)
        common = dict(
            tenant=self.tenant,
            project=self.project,
            completed_steps=steps[:-1],
            current_step=steps[-1],
            palette_scope="project",
            palette_check=self.project_check,
        )
        self.tenant_rule, self.project_rule = (
            NotificationRule(
                name="acme-rule",
                events=["pool.failed"],
                channel=NotificationRule.WEBHOOK,
                url="https://hooks.example.com/acme",
                secret_name="acme-rule-secret",
            )
            for _ in range(2)
        )
        self.tenant_rule.set_owner(self.tenant)
        self.tenant_rule.save()
        self.project_rule.set_owner(self.project)
        self.project_rule.save()
        self.owner_session = OnboardingSession.objects.create(user=world.owner, **common)
        self.viewer_session = OnboardingSession.objects.create(user=world.viewer, **common)
        self.steps = steps

    # Identifiers that must never appear on a page rendered for someone outside acme.
    @property
    def markers(self) -> list[str]:
        return [
            self.tenant.name,
            self.tenant.display_name,
            self.project.namespace,
            str(self.host.uuid),
            self.host.uid,
            str(self.pool.uuid),
            self.bundle.name,
            str(self.owner_session.uuid),
            str(self.tenant_check.uuid),
        ]

    def value(self, kwarg: str, converter: str, route: Route, actor) -> list[str]:
        from integrations.form_actions import TOKEN_KINDS

        by_uuid = converter == "uuid"
        scoped_to_project = "project" in route.kwargs
        table = {
            "tenant": lambda: [self.tenant.name],
            "project": lambda: [self.project.name],
            "membership": lambda: [str(self.membership.uuid)],
            "kind": lambda: list(TOKEN_KINDS),
            "check": lambda: [str((self.project_check if scoped_to_project else self.tenant_check).uuid)],
            "session": lambda: [
                str((self.viewer_session if actor == self.world.viewer else self.owner_session).uuid)
            ],
            "step": lambda: list(self.steps),
            "host": lambda: [str(self.host.uuid) if by_uuid else self.host.uid],
            "edit": lambda: [str(self.tag_edit.uuid)],
            "pool": lambda: [str(self.pool.uuid) if by_uuid else self.pool.name],
            "bundle": lambda: [str(self.bundle.uuid) if by_uuid else self.bundle.name],
            "run": lambda: [str(self.discovery_run.uuid)],
            "sync": lambda: [str(self.profile_sync.uuid)],
            "rule": lambda: [(self.project_rule if scoped_to_project else self.tenant_rule).name],
        }
        if kwarg not in table:
            raise UnknownKwarg(
                f"URL {route.name or route.route!r} has keyword argument <{converter}:{kwarg}> "
                f"that the security sweep "
                f"does not know. Add it to AcmeObjects in tests/security/sweep.py "
                f"(create an acme object of that kind "
                f"and return its identifier), "
                f"so the new view is checked for login, tenant isolation and roles."
            )
        return table[kwarg]()

    @staticmethod
    def ghost(kwarg: str, converter: str, value: str) -> str:
        """A value of the same shape naming nothing (choices such as a step or token kind stay)."""
        if kwarg in ("kind", "step"):
            return value
        if converter == "uuid":
            return str(uuid.uuid4())
        return GHOST.get(kwarg, f"no-such-{kwarg}")

    def cases(self, route: Route, actor=None) -> list[Case]:
        """Every concrete URL of `route` for `actor` (values may depend on who asks: onboarding sessions)."""
        if route.name is None:
            raise UnknownKwarg(
                f"URL pattern {route.route!r} has no name: name it so the security sweep can reverse it."
            )
        choices = [[(k, v) for v in self.value(k, conv, route, actor)] for k, conv in route.converters]
        out = []
        for combo in itertools.product(*choices) if choices else [()]:
            kwargs = dict(combo)
            ghost = {k: self.ghost(k, conv, kwargs[k]) for k, conv in route.converters}
            label = route.name + (
                "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items() if k in ("kind", "step")) + ")"
                if any(k in ("kind", "step") for k in kwargs)
                else ""
            )
            out.append(
                Case(
                    route,
                    kwargs,
                    reverse(route.name, kwargs=kwargs),
                    reverse(route.name, kwargs=ghost),
                    label,
                )
            )
        return out
