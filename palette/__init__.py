"""The Palette REST API as Python (no Django): client, typed models, errors, pagination, rate
limiting and the spec contract; ``palette.sim`` is a faithful HTTPS simulator of the same API."""

from __future__ import annotations

from .bodies import EdgeNativeCluster, MachinePool, PoolHost, ProfileRef
from .client import PaletteClient
from .errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
    PaginationError,
    PaletteConnectionError,
    PaletteError,
    PaletteHTTPError,
    PaletteProtocolError,
    PaletteTimeout,
    PaletteTLSError,
    PermissionDenied,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    ServiceUnavailable,
)
from .models import (
    Cluster,
    ClusterOverview,
    ClusterProfile,
    ClusterStatus,
    EdgeHost,
    Gpu,
    ObjectRef,
    Pack,
    Project,
    UserInfo,
    ValidationProblem,
    ValidationResult,
)
from .ratelimit import RateLimiter, default_limiter
from .transport import RequestRecord, RetryPolicy

__all__ = [
    "PaletteClient",
    "RetryPolicy",
    "RequestRecord",
    "RateLimiter",
    "default_limiter",
    "EdgeNativeCluster",
    "MachinePool",
    "PoolHost",
    "ProfileRef",
    "PaletteError",
    "PaletteConnectionError",
    "PaletteTimeout",
    "PaletteTLSError",
    "PaletteProtocolError",
    "ResponseTooLarge",
    "PaginationError",
    "PaletteHTTPError",
    "BadRequest",
    "AuthenticationFailed",
    "PermissionDenied",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "UserInfo",
    "Project",
    "ObjectRef",
    "EdgeHost",
    "Gpu",
    "ClusterProfile",
    "Pack",
    "Cluster",
    "ClusterStatus",
    "ClusterOverview",
    "ValidationResult",
    "ValidationProblem",
]
