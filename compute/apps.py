from __future__ import annotations

from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "compute"
    verbose_name = "Compute"

    def ready(self) -> None:
        from tenancy.overview import register_step

        from .overview import hosts_step, pools_step

        register_step(20, hosts_step)
        register_step(30, pools_step)
        _register_manifest_kinds()


def _register_manifest_kinds() -> None:
    """Add ProfileBundle and ComputePool to the manifest dispatcher (it lists handler modules by path)."""
    try:
        from core import manifests
    except ImportError:  # the dispatcher is optional for the rest of the app
        return
    if "compute.manifests" not in manifests.HANDLER_MODULES:
        manifests.HANDLER_MODULES = (*manifests.HANDLER_MODULES, "compute.manifests")
