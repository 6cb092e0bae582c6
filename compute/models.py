"""Edge hosts discovered in Palette, the runs that discover them, each project's discovery policy,
profile bundles, and compute pools with their provisioning steps."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from core.fields import EncryptedTextField
from core.models import TaskRun, one_active_run_per
from tenancy.models import DNS1123_LABEL, Project

from .eligibility import Reason, stored_reasons

DEFAULT_TAG_KEY = "palette.ai"
DEFAULT_TAG_VALUE = "true"


class DiscoveryPolicy(models.Model):
    """Which tag marks a host for PaletteAI in one project (default palette.ai=true), matched exactly."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="discovery_policy")
    tag_key = models.CharField(max_length=128, default=DEFAULT_TAG_KEY)
    tag_value = models.CharField(
        max_length=128,
        default=DEFAULT_TAG_VALUE,
        blank=True,
        help_text="Blank means a bare tag (the key alone).",
    )

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

    Upserted by Palette uid; `fingerprint` hashes everything discovery stores and the discovery policy
    that judged it (compute.discovery.fingerprint), so an unchanged host costs no write and a policy
    change re-judges every host. `gone` is set only after a complete, successful scan did not
    see the host. `eligible`/`reasons` are the label check (compute.eligibility) stored for
    filtering and recomputed when the host or the project's policy changes; `reasons` holds
    compute.eligibility.Reason as {"code", "params", "text"} dicts (`reason_list` reads them back).
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
    def reason_list(self) -> list[Reason]:
        """Why the host is not eligible, as Reason objects (`short` and `text` for the pages)."""
        return stored_reasons(self.reasons)

    @property
    def audit_tenant(self):
        return self.project.tenant


class DiscoveryRun(TaskRun):
    """One scan of a project's edge hosts in Palette.

    Progress: pages, hosts seen; result: added, updated, gone, unchanged, and the hosts Palette
    sent that could not be stored as they were: `skipped` (no usable uid, or an unreadable record)
    and `cleaned` (stored after removing NULs, cutting text, dropping out-of-range numbers), the
    first of them listed in `host_problems`. Never two active at once per project
    (compute.discovery.start_discovery joins the active one).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="discovery_runs")
    trigger = models.CharField(
        max_length=32, default="manual", help_text="schedule, manual, onboarding, cli, tags"
    )
    pages = models.PositiveIntegerField(default=0)
    hosts_seen = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cleaned = models.PositiveIntegerField(default=0)
    host_problems = models.JSONField(
        default=list, blank=True, help_text="[{uid, name, action: skipped|cleaned, detail}], the first 50."
    )
    #: The counts a run's summary shows (the admin's list, the inventory's sync status).
    COUNTS = ("pages", "hosts_seen", "added", "updated", "removed", "skipped", "cleaned")

    class Meta(TaskRun.Meta):
        # (project, status, -finished): the last successful scan (compute.liveness.last_successful_scan).
        indexes = [
            models.Index(fields=["project", "-created"]),
            models.Index(fields=["project", "status", "-finished"]),
        ]
        constraints = [one_active_run_per("project", name="discoveryrun_one_active_per_project")]

    @property
    def audit_tenant(self):
        return self.project.tenant

    @property
    def problem_count(self) -> int:
        return self.skipped + self.cleaned

    @property
    def problem_summary(self) -> str:
        """`2 hosts skipped, 5 stored after cleaning` (either part only when it happened)."""
        parts = []
        if self.skipped:
            parts.append(f"{self.skipped} host{pluralize(self.skipped)} skipped")
        if self.cleaned:
            parts.append(f"{self.cleaned} stored after cleaning")
        return ", ".join(parts)


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
        # A host's latest changes (its page), and the daily prune by age (core.retention).
        indexes = [models.Index(fields=["host", "-created"]), models.Index(fields=["created"])]

    def __str__(self) -> str:
        return f"{self.host}: {self.kind} {self.created:%Y-%m-%d %H:%M:%S}"


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
    clusters = models.JSONField(
        default=list, blank=True, help_text="Names of the clusters using this version."
    )
    present = models.BooleanField(default=True)
    variables = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "The version's profile variables as Palette lists them (GET /v1/clusterprofiles/{uid}/variables)."
        ),
    )
    synced = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "uid"], name="clusterprofile_unique_in_project")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def type_label(self) -> str:
        return {"infra": "Infrastructure", "cluster": "Full", "add-on": "Add-on"}.get(
            self.profile_type, self.profile_type
        )


class ProfileSync(TaskRun):
    """One sync of a project's cluster profiles from Palette."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profile_syncs")

    class Meta(TaskRun.Meta):
        indexes = [models.Index(fields=["project", "-created"])]  # the project's last sync (profiles page)
        constraints = [one_active_run_per("project", name="profilesync_one_active_per_project")]


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


class ProfileBundle(models.Model):
    """A named, versioned set of Palette cluster profile versions a Compute Pool is built from.

    Types Infrastructure and Fullstack (Application bundles are out of scope). `profiles` holds
    exactly one edge-native profile version of type infra or cluster (Full) first, then add-ons,
    each as {uid, name, version, type}: the uid is what Palette needs, the rest is for people and
    for noticing that a version disappeared from Palette (compute.bundles checks them).
    """

    INFRASTRUCTURE, FULLSTACK = "Infrastructure", "Fullstack"
    TYPE_CHOICES = [(INFRASTRUCTURE, "Infrastructure"), (FULLSTACK, "Fullstack")]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="profile_bundles")
    namespace = models.CharField(
        max_length=63, editable=False, help_text="The project's namespace (manifests address bundles by it)."
    )
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    bundle_type = models.CharField(max_length=16, choices=TYPE_CHOICES, default=INFRASTRUCTURE)
    version = models.CharField(max_length=64, default="1")
    description = models.TextField(blank=True, max_length=1000)
    profiles = models.JSONField(
        default=list, help_text="[{uid, name, version, type}], the infra or Full profile first."
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="profilebundle_unique_in_project")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        self.namespace = self.project.namespace  # a project's namespace never changes
        super().save(*args, **kwargs)

    @property
    def audit_tenant(self):
        return self.project.tenant


class ComputePool(models.Model):
    """An edge-native Kubernetes cluster that Palette builds from eligible edge hosts.

    Spec (checked by compute.spec): variant (dedicated/shared, immutable), bundle, `node_pools`
    (nodePoolRequirements, README "The ComputePool manifest"), resource groups, VIP (unique among pools not
    deleted), SSH keys, deletion policy.

    Lifecycle (`status`): pending → validating → provisioning → running → ready, or failed;
    ready → updating → ready (a day-2 change, `change`); deleting → deleted. `operation` says which chain runs
    (provision, delete, or a day-2 operation such as scale or replace) and `step` the
    step it is at; the chain is a sequence of Celery messages carrying `tick`: a message runs only
    if its tick still matches (compare-and-set), so a redelivered or superseded message does
    nothing, and `due_at` tells the watchdog when a chain that went silent must be resumed.
    `cluster_name` is fixed before anything is sent, and `cluster_uid` is stored the moment Palette
    returns it: a create whose answer was lost is found again by name, never repeated.
    The row stays after deletion (status deleted) with its cleanup summary; name and VIP are
    unique only among pools that are not deleted.
    """

    PENDING, VALIDATING, PROVISIONING, RUNNING, READY = (
        "pending",
        "validating",
        "provisioning",
        "running",
        "ready",
    )
    FAILED, DELETING, DELETED = "failed", "deleting", "deleted"
    # Needs attention: Palette's answers do not prove the cluster gone (a 404 that the project probe or a
    # second read does not confirm); the pool keeps its hosts and says why until someone looks.
    ATTENTION = "attention"
    UPDATING = "updating"
    STATUS_CHOICES = [
        (PENDING, "Pending"),
        (VALIDATING, "Validating"),
        (PROVISIONING, "Provisioning"),
        (RUNNING, "Running"),
        (READY, "Ready"),
        (FAILED, "Failed"),
        (DELETING, "Deleting"),
        (DELETED, "Deleted"),
        (ATTENTION, "Needs attention"),
        (UPDATING, "Updating"),
    ]
    IN_PROGRESS = (PENDING, VALIDATING, PROVISIONING, RUNNING, DELETING, UPDATING)
    TERMINAL = (READY, FAILED, DELETED, ATTENTION)
    #: Stopped on a problem someone must look at: Retry and Delete are offered.
    STOPPED = (FAILED, ATTENTION)
    DEDICATED, SHARED = "dedicated", "shared"
    VARIANT_CHOICES = [(DEDICATED, "Dedicated"), (SHARED, "Shared")]
    DELETE, ORPHAN = "delete", "orphan"
    POLICY_CHOICES = [(DELETE, "Delete the Palette cluster"), (ORPHAN, "Keep (orphan) the Palette cluster")]
    PROVISION, DELETION = "provision", "delete"
    # Day-2 operations on a Ready pool's cluster (compute.provisioning.day2): status Updating while they run.
    SCALE, REPLACE = "scale", "replace"
    UPGRADE = "upgrade"  # a newer profile version of the bundle (compute.provisioning.upgrade)
    FAILURE_CHOICES = [
        ("credentials", "Credentials"),
        ("tls", "TLS"),
        ("capacity", "Capacity"),
        ("rejected", "Palette rejected the request"),
        ("timeout", "Timeout"),
        ("unreachable", "Palette unreachable"),
        ("internal", "Internal error"),
    ]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="compute_pools")
    namespace = models.CharField(
        max_length=63, editable=False, help_text="The project's namespace (manifests address pools by it)."
    )
    name = models.CharField(max_length=33)
    description = models.TextField(blank=True, max_length=1000)
    labels = models.JSONField(default=dict, blank=True)
    variant = models.CharField(max_length=16, choices=VARIANT_CHOICES, default=DEDICATED)
    bundle = models.ForeignKey(
        ProfileBundle, null=True, blank=True, on_delete=models.SET_NULL, related_name="pools"
    )
    bundle_name = models.CharField(max_length=63)
    node_pools = models.JSONField(
        default=dict, help_text="nodePoolRequirements: {controlPlanePool, workerPools}"
    )
    cp_resource_groups = models.JSONField(default=dict, blank=True)
    worker_resource_groups = models.JSONField(default=dict, blank=True)
    vip = models.GenericIPAddressField(protocol="IPv4")
    ssh_keys = models.JSONField(default=list, blank=True)
    deletion_policy = models.CharField(max_length=8, choices=POLICY_CHOICES, default=DELETE)

    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING, db_index=True)
    operation = models.CharField(max_length=16, default=PROVISION)
    step = models.CharField(max_length=32, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    tick = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    wait_reason = models.TextField(blank=True)
    last_seen = models.JSONField(
        default=dict, blank=True, help_text="What Palette reported last: state, health, at."
    )
    cluster_name = models.CharField(max_length=63, blank=True)
    cluster_uid = models.CharField(max_length=64, blank=True)
    hosts = models.JSONField(
        default=dict, blank=True, help_text="{machine pool: [host uids]} chosen for the cluster."
    )
    sent_hosts = models.JSONField(
        default=list, blank=True, help_text="Hosts of the last create request sent to Palette."
    )
    excluded_hosts = models.JSONField(
        default=list, blank=True, help_text="Hosts Palette refused during this attempt."
    )
    request = models.JSONField(
        default=dict, blank=True, help_text="The create body sent (or to be sent) to Palette."
    )
    failure_class = models.CharField(max_length=16, choices=FAILURE_CHOICES, blank=True)
    failure_message = models.TextField(blank=True)
    kubeconfig = EncryptedTextField(blank=True)
    kubeconfig_kind = models.CharField(
        max_length=16,
        blank=True,
        help_text="Which of Palette's kubeconfigs was stored: admin, client or kubeconfig.",
    )
    # Where the pool's cluster lives, recorded at its first create: every later call for this pool goes there,
    # whatever the Settings say now (a 404 from another Palette project proves nothing).
    palette_host = models.CharField(max_length=500, blank=True)
    palette_tenant = models.CharField(max_length=200, blank=True)
    palette_project_uid = models.CharField(max_length=64, blank=True)
    variables = models.JSONField(
        default=dict,
        blank=True,
        help_text="Profile variable values: {profile name: {variable: value}} (masked ones not here).",
    )
    secret_variables = EncryptedTextField(
        blank=True, help_text="Masked profile variable values, encrypted JSON."
    )
    delete_requested = models.BooleanField(default=False)
    force_delete_requested = models.BooleanField(default=False)
    force_delete_sent = models.DateTimeField(null=True, blank=True)
    delete_sent = models.DateTimeField(null=True, blank=True)
    cleanup = models.JSONField(default=dict, blank=True)
    change = models.JSONField(
        default=dict,
        blank=True,
        help_text="The day-2 change being made: {machinePool, controlPlane, before, target, add, remove}.",
    )
    palette_events = models.JSONField(
        default=dict,
        blank=True,
        help_text="Palette's newest events of the cluster and its first warning (provisioning.events).",
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    started = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the current attempt began: provisioning, or deletion (the pool page counts from it).",
    )
    ready_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=~Q(status="deleted"),
                name="computepool_name_unique_active",
            ),
            models.UniqueConstraint(
                fields=["vip"], condition=~Q(status="deleted"), name="computepool_vip_unique_active"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.namespace = self.project.namespace  # a project's namespace never changes
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        """The pool's page."""
        return reverse("compute:pool_detail", args=[self.project.tenant.name, self.project.name, self.uuid])

    @property
    def audit_tenant(self):
        return self.project.tenant

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def host_count(self) -> int:
        return sum(len(v) for v in self.hosts.values())


class PoolStep(models.Model):
    """One step of one attempt of a pool's provisioning or deletion, as it happened.

    Steps: validate, create, wait, kubeconfig (provisioning); delete, wait_deleted, release
    (deletion). `first_error` is never overwritten, so an error that went away on retry is still
    shown; `retries` counts transient failures retried with backoff; `detail` is the latest
    human-readable state ("Palette reports Provisioning, health —").
    """

    RUNNING, SUCCEEDED, FAILED, SKIPPED = "running", "succeeded", "failed", "skipped"
    pool = models.ForeignKey(ComputePool, on_delete=models.CASCADE, related_name="steps")
    attempt = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=32)
    status = models.CharField(max_length=16, default=RUNNING)
    started = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    first_error = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["pool", "attempt", "started", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "attempt", "name"], name="poolstep_unique_per_attempt")
        ]

    def __str__(self) -> str:
        return f"{self.pool} #{self.attempt} {self.name} {self.status}"

    @property
    def duration(self):
        return (self.finished or timezone.now()) - self.started
