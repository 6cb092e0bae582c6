"""What every handler of the simulator works with: the routed call, its reply, errors, shared checks."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import search
from .state import SimState


class ApiError(Exception):
    """An error answer. String codes are application errors (with a 64-hex ref); integer codes are
    go-swagger framework errors (``{code, message}`` only)."""

    def __init__(self, status: int, code: str | int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body Palette would send."""
        if isinstance(self.code, int):
            return {"code": self.code, "message": self.message}
        return {"code": self.code, "message": self.message, "ref": secrets.token_hex(32)}


@dataclass
class Call:
    """One authenticated, routed request."""

    method: str
    path: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    project_uid: str | None
    read_only: bool
    #: The projects the key's user has a role in (None: a tenant role, so all of them).
    key_projects: set[str] | None = None


@dataclass
class Reply:
    """A handler's answer: status, JSON body (or text for files) and extra headers.

    ``lost`` means the work is done but the answer never reaches the client (the server resets the
    connection instead of sending it): an injected fault.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    lost: bool = False


class Handlers:
    """A group of handlers over a SimState (``Api`` joins the groups' ``routes()``)."""

    def __init__(self, state: SimState):
        self.state = state

    def routes(self) -> dict[tuple[str, str], Callable[[Call], Reply]]:
        """Operation (method, template) -> handler, for each operation the group answers."""
        raise NotImplementedError


def not_found(kind: str, uid: str) -> ApiError:
    """Palette's 404 for a missing (or out-of-scope) object."""
    return ApiError(404, "ResourceNotFound", f"{kind} '{uid}' not found")


def require_write(call: Call, permission: str) -> None:
    """403 for a read-only key."""
    if call.read_only:
        raise ApiError(
            403,
            "Forbidden",
            f"Permission denied: the user does not have '{permission}' permission"
            + (f" in project '{call.project_uid}'" if call.project_uid else ""),
        )


def require_license(state: SimState, what: str) -> None:
    """Refuse new clusters and day-2 operations on an Inactive (unactivated, trial over) self-hosted Palette.

    librarium enterprise-version/activate-installation/activate-installation.md: after the 30-day trial,
    existing clusters keep running but no cluster is deployed and no day-2 operation runs until Palette is
    activated. The status and code of the refusal are not documented (docs/palette-behaviour.md §16).
    """
    if state.license_state == "Inactive":
        raise ApiError(
            403,
            "SystemNotActivated",
            f"Palette is not activated and its trial period is over: {what} "
            "is not allowed until a system administrator activates it",
        )


def limit_offset(call: Call) -> tuple[int, int]:
    """The page requested: ``limit`` (at most 50) and the offset from ``continue`` or ``offset``."""
    # Palette's default and maximum page size is 50; where the spec declares no maximum, bigger is capped.
    limit = min(50, int(call.query.get("limit") or 50) or 50)
    token = call.query.get("continue")
    if token:
        try:
            return limit, search.decode_token(token)
        except search.SearchError as exc:
            raise ApiError(400, "InvalidContinueToken", str(exc)) from None
    return limit, int(call.query.get("offset") or 0)


def schema_reply(properties: list[dict]) -> Reply:
    """A search schema endpoint's answer (v1SearchFilterSchemaSpec): its filterable properties, each made by
    ``search.schema_property``."""
    return Reply(body={"schema": {"properties": properties}})


def search_reply(
    state: SimState,
    call: Call,
    match: Callable[[Any], list],
    summary: Callable[[SimState, Any], Any],
    *,
    cache: str = "",
) -> Reply:
    """A search endpoint's answer: the requested page of ``match(body)``, each item rendered by ``summary``.

    A filter ``match`` cannot read (``search.SearchError``) is a 400 ``InvalidFilter``. With ``cache`` (the
    search's name), ``match(body)`` is computed once per state version for the call's project and body
    (``SimState.cached``).
    """
    body = call.body or {}
    limit, offset = limit_offset(call)
    with state.lock:
        try:
            if cache:
                matched = state.cached((cache, call.project_uid, repr(body)), lambda: match(body))
            else:
                matched = match(body)
        except search.SearchError as exc:
            raise ApiError(400, "InvalidFilter", str(exc)) from None
        chunk, listmeta = search.page(matched, limit=limit, offset=offset, stuck=state.stuck_continue)
        items = [summary(state, item) for item in chunk]
    return Reply(body={"items": items, "listmeta": listmeta})
