"""Edge hosts discovered in Palette, the runs that discover them, and each project's discovery policy."""
from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from core.models import TaskRun
from tenancy.models import Project

DEFAULT_TAG_KEY = "palette.ai"
DEFAULT_TAG_VALUE = "true"


class DiscoveryPolicy(models.Model):
    """Which tag marks a host for PaletteAI in one project (default palette.ai=true), matched exactly."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="discovery_policy")
    tag_key = models.CharField(max_length=128, default=DEFAULT_TAG_KEY)
    tag_value = models.CharField(max_length=128, default=DEFAULT_TAG_VALUE, blank=True,
                                 help_text="Blank means a bare tag (the key alone).")

    class Meta:
        verbose_name_plural = "discovery policies"

    def __str__(self) -> str:
        return f"{self.project}: {self.tag}"

    @property
    def tag(self) -> str:
        return f"{self.tag_key}={self.tag_value}" if self.tag_value else self.tag_key

    @property
    def audit_tenant(self):
        return self.project.tenant

    @classmethod
    def for_project(cls, project: Project) -> DiscoveryPolicy:
        """The project's policy, or the default one (unsaved) when it has none."""
        return cls.objects.filter(project=project).first() or cls(project=project)


class EdgeHost(models.Model):
    """An edge host as last seen by discovery in the project's Palette project.

    Upserted by Palette uid; `fingerprint` is a hash of everything discovery stores, so an
    unchanged host costs no write. `gone` is set only after a complete, successful scan did not
    see the host. `eligible`/`reasons` are the label check (compute.eligibility) stored for
    filtering and recomputed when the host or the project's policy changes.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="edge_hosts")
    uid = models.CharField(max_length=128, help_text="Palette's edge host uid (machine ID).")
    name = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=32, blank=True, db_index=True)
    health = models.CharField(max_length=32, blank=True, db_index=True)
    health_message = models.TextField(blank=True)
    architecture = models.CharField(max_length=32, blank=True, db_index=True)
    cpu_cores = models.PositiveIntegerField(null=True, blank=True)
    memory_mib = models.PositiveIntegerField(null=True, blank=True)
    gpus = models.JSONField(default=list, blank=True, help_text="[{vendor, model, count, memoryMiB}]")
    gpu_total = models.PositiveIntegerField(default=0, db_index=True)
    gpu_models = models.CharField(max_length=500, blank=True, help_text="GPU models, for filtering.")
    tags = models.JSONField(default=dict, blank=True)
    clusters = models.JSONField(default=list, blank=True, help_text="Names of the clusters using the host.")
    ip = models.CharField(max_length=64, blank=True)
    nics = models.JSONField(default=list, blank=True)
    palette_project_uid = models.CharField(max_length=64, blank=True)
    eligible = models.BooleanField(default=False, db_index=True)
    reasons = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    changed = models.DateTimeField(default=timezone.now, help_text="When discovery last saw a difference.")
    gone = models.BooleanField(default=False, db_index=True)
    gone_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "uid"]
        constraints = [models.UniqueConstraint(fields=["project", "uid"], name="edgehost_unique_in_project")]
        indexes = [models.Index(fields=["project", "gone", "eligible"])]

    def __str__(self) -> str:
        return self.name or self.uid

    @property
    def audit_tenant(self):
        return self.project.tenant


class DiscoveryRun(TaskRun):
    """One scan of a project's edge hosts in Palette.

    Progress: pages, hosts seen; result: added, updated, gone, unchanged. Never two active at
    once per project (compute.discovery.start_discovery joins the active one).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="discovery_runs")
    trigger = models.CharField(max_length=32, default="manual", help_text="schedule, manual, onboarding, cli, tags")
    pages = models.PositiveIntegerField(default=0)
    hosts_seen = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta(TaskRun.Meta):
        indexes = [models.Index(fields=["project", "-created"])]

    @property
    def audit_tenant(self):
        return self.project.tenant


class HostChange(models.Model):
    """What one discovery run changed on one host: added, updated (field → [old, new]), gone or returned."""

    ADDED, UPDATED, GONE, RETURNED = "added", "updated", "gone", "returned"
    host = models.ForeignKey(EdgeHost, on_delete=models.CASCADE, related_name="history")
    run = models.ForeignKey(DiscoveryRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16)
    changes = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-pk"]


class ClusterProfile(models.Model):
    """One version of a Palette cluster profile visible in the project's Palette project (synced).

    Types: infra, cluster (Full), add-on (system profiles are skipped). `present` turns false when
    a sync no longer sees the version, so bundles referencing it can say it is gone from Palette.
    """

    INFRA, FULL, ADDON = "infra", "cluster", "add-on"
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cluster_profiles")
    uid = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64, blank=True)
    profile_type = models.CharField(max_length=16)
    cloud_type = models.CharField(max_length=32)
    scope = models.CharField(max_length=32, blank=True)
    clusters = models.JSONField(default=list, blank=True, help_text="Names of the clusters using this version.")
    present = models.BooleanField(default=True)
    synced = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "version"]
        constraints = [models.UniqueConstraint(fields=["project", "uid"], name="clusterprofile_unique_in_project")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def type_label(self) -> str:
        return {"infra": "Infrastructure", "cluster": "Full", "add-on": "Add-on"}.get(self.profile_type, self.profile_type)


class ProfileSync(TaskRun):
    """One sync of a project's cluster profiles from Palette."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profile_syncs")


class TagEdit(TaskRun):
    """Adding and removing tags on a set of hosts in Palette, with a result per host.

    `results` maps host uid → "ok" or the reason Palette refused it; a refused host is reported,
    not fatal. After the writes a discovery run refreshes the inventory.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tag_edits")
    add = models.JSONField(default=dict, blank=True)
    remove = models.JSONField(default=list, blank=True)
    host_uids = models.JSONField(default=list)
    results = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)

    @property
    def ok_count(self) -> int:
        return sum(1 for v in self.results.values() if v == "ok")

    @property
    def failed(self) -> dict:
        return {k: v for k, v in self.results.items() if v != "ok"}
