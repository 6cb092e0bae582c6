"""A faithful simulator of Palette's REST API (the spec subset), for tests, demos and benchmarks.

Faithful, not friendly: ``ApiKey`` required (401), ``ProjectUid`` scoping, POST list endpoints
with filter bodies and base64-JSON continue tokens (pages of at most 50; ``limit`` > 50 is a 422
``{"code":608,...}``), 405 for GET on POST-only paths, edge host and cluster state machines,
Palette's published rate limits (429), fault injection, and HTTPS with its own CA.
Start it in-process with ``Simulator(...).start()`` or as ``manage.py palette_sim``.
"""

from __future__ import annotations

from .faults import Faults
from .server import Simulator
from .state import Timings

__all__ = ["Simulator", "Timings", "Faults"]
