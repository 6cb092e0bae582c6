"""The readiness report: can this Compute Pool be built now, with which hosts, by which request.

`evaluate(inputs)` is pure (no database, no Palette): given the inventory, the pool spec, the
bundle, the integration status and what other pools hold, it lists every requirement with
pass/fail, whether it blocks, and the exact reason; picks hosts for every machine pool
(deterministically: hosts already chosen first, then the smallest host that fits); and builds the
`POST /v1/spectroclusters/edge-native` body with palette.bodies, validated against the spec
subset. The CLI (`pool_plan`), the Create action and provisioning's validate step all use it, so
they can never disagree. `gather(...)` collects the inputs from the database in a fixed number
of queries. `allocating(...)` serializes choosing and saving hosts per Palette project.
"""

from __future__ import annotations

from .allocation import allocating, allocation_key
from .evaluator import (
    CREATE_PATH,
    HostFacts,
    Inputs,
    Integration,
    Report,
    Requirement,
    build_request,
    evaluate,
    pick_hosts,
    short,
)
from .inputs import cluster_name_for, gather, report_for_pool

__all__ = [
    "CREATE_PATH",
    "HostFacts",
    "Inputs",
    "Integration",
    "Report",
    "Requirement",
    "allocating",
    "allocation_key",
    "build_request",
    "cluster_name_for",
    "evaluate",
    "gather",
    "pick_hosts",
    "report_for_pool",
    "short",
]
