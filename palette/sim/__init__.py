"""A faithful simulator of Palette's REST API (the spec subset), for tests, demos and benchmarks.

Faithful, not friendly: ``ApiKey`` required (401), ``ProjectUid`` scoping (another project's
cluster is a 404; a key with only project roles gets 403 on tenant-role operations such as
``GET /v1/projects/{uid}`` and sees only its projects in the project list), POST list endpoints
with filter bodies and base64-JSON continue tokens (pages of at most 50; ``limit`` > 50 is a 422
``{"code":608,...}``), 405 for GET on POST-only paths, edge host
and cluster state machines with Palette's lags (``inUseClusters`` and the kubeconfig filled a while
after the create, force delete only after 15 minutes in Deleting, Deleted clusters kept listed),
validate as a constraint validator with host problems as a 400, a duplicate create as a 400,
Palette's published rate limits (429 without ``Retry-After``), the self-hosted activation state,
fault injection (an answer lost after the work was done included), and HTTPS with its own CA.
Each behaviour, with its public source, is in docs/palette-behaviour.md. Start it in-process with
``Simulator(...).start()`` or as ``manage.py palette_sim``.
"""

from __future__ import annotations

from .faults import Faults
from .server import Simulator
from .state import Timings

__all__ = ["Simulator", "Timings", "Faults"]
