from __future__ import annotations

from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"
    verbose_name = "Compute"

    def ready(self) -> None:
        from core import metrics, state_warnings
        from core.runs import register_history, register_run_kind
        from integrations import onboarding
        from tenancy import deletion
        from tenancy.home import register_column
        from tenancy.overview import register_step

        from . import tasks  # noqa: F401  (registers the tasks: domain code sends them by name, core.tasks.send)
        from .across import failures_column, hosts_column, pools_column
        from .deletion import live_pools_blocker, remove_pools_and_bundles
        from .discovery import start_discovery
        from .metrics import discovery_metrics, pool_metrics
        from .origin import moved_pools_warnings
        from .overview import hosts_step, pools_step

        register_step(20, hosts_step)
        register_step(30, pools_step)
        register_column(20, "Eligible hosts", hosts_column)
        register_column(30, "Compute Pools", pools_column)
        register_column(40, "Recent failures (7 days)", failures_column)
        deletion.register_blocker(live_pools_blocker)
        metrics.register(discovery_metrics)
        metrics.register(pool_metrics)
        state_warnings.register(moved_pools_warnings)
        onboarding.register_discovery(start_discovery)
        deletion.register_cleanup(10, remove_pools_and_bundles)
        for label, task, name, retention in (
            ("compute.DiscoveryRun", "compute.discovery", "discovery runs", "RETENTION_DISCOVERY_RUNS_DAYS"),
            ("compute.ProfileSync", "compute.profile_sync", "profile syncs", "RETENTION_PROFILE_SYNCS_DAYS"),
            ("compute.TagEdit", "compute.tag_edit", "tag edits", "RETENTION_TAG_EDITS_DAYS"),
        ):
            register_run_kind(label, task=task, name=name, retention=retention, targets=("project",))
        register_history(
            "compute.HostChange", name="host history entries", retention="RETENTION_HOST_HISTORY_DAYS"
        )
