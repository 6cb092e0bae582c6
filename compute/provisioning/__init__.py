"""Provisioning and deletion of Compute Pools through Palette, one recorded step at a time.

Provisioning: validate (readiness report, then Palette's `/edge-native/validate`, whose errors
count even on a 200; hosts it names, in a 4xx or in the body, are left out and the pool planned
again) → create (idempotent, see below) → wait (Running and overview health Healthy, polled by
re-scheduling, never by sleeping) → kubeconfig (once the overview's hasKubeConfig is true: the
admin kubeconfig, else the client one, else the plain one, only a text that is a kubeconfig;
stored encrypted) → Ready.
Deletion: delete (per the deletion policy) → wait_deleted (Deleted or 404; force delete offered
after POOL_FORCE_DELETE_AFTER) → release (discovery is started, the hosts are checked) → Deleted,
with a cleanup summary.

How it stays correct when things go wrong:
- One Celery message runs one step. It carries the pool's `tick`; `run_step` claims the pool by
  compare-and-set on it and every write of the step is conditional on the new tick, so a
  redelivered, duplicated or superseded message changes nothing.
- The current step is stored on the pool: a worker killed at any point leaves the pool at its
  step, `due_at` in the past, and the watchdog (beat, and every worker start) re-sends it.
- The cluster name is fixed when the pool is created and the cluster uid is written the moment
  Palette returns it. Before any create (and on a create error that can mean "it exists"), the
  cluster is looked up by name in the pool's Palette project, the hosts' inUseClusters only as a
  hint, so a create whose answer was lost (timeout, reset, killed worker) is found, not
  repeated: a retry never makes a second cluster.
- Transient errors (palette.errors: timeouts, 429, 502-504, resets) are retried with backoff and
  jitter; permanent ones fail the pool with a classification (credentials, tls, capacity,
  rejected, timeout, unreachable). Each step keeps its first and its last error.
- POOL_PROVISION_TIMEOUT ends a provisioning attempt in Failed with what Palette reported last;
  the cluster is left in place (never recreated), and Retry resumes waiting for it.
"""

from __future__ import annotations

from .actions import (
    core_fields,
    create_pool,
    enqueue,
    request_delete,
    request_force_delete,
    resume_stalled,
    retry_pool,
    timeline,
)
from .context import DELETE_STEPS, PROVISION_STEPS, STEP_LABELS, Next, classify, find_cluster
from .deletion import force_delete_available
from .steps import run_step

__all__ = [
    "DELETE_STEPS",
    "PROVISION_STEPS",
    "STEP_LABELS",
    "Next",
    "classify",
    "core_fields",
    "create_pool",
    "enqueue",
    "find_cluster",
    "force_delete_available",
    "request_delete",
    "request_force_delete",
    "resume_stalled",
    "retry_pool",
    "run_step",
    "timeline",
]
