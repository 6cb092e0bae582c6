"""Search filters, sorting and continue tokens, as Palette's list endpoints apply them.

Edge host and cluster search (v1SearchFilterSummarySpec): filter groups are joined by
``filter.conjunction``, the filters of a group by the group's conjunction, and the values of one
filter by its ``match.conjunction``; a ``bool`` condition matches a boolean property. Tag values are
``key:value`` strings matched against labels. Edge host properties: tags, state, healthState,
architecture, name (``EDGE_HOST_PROPERTIES``); cluster properties are built per request
(``palette.sim.clusters``).

Continue tokens are base64 JSON like ``{"offset":50,"count":117,"token":""}``, the shape the
Palette docs' sample token decodes to.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .state import Host, Profile, version_key

#: How to read one filterable property from an object: its values (strings, or a bool).
Properties = Mapping[str, Callable[[Any], list]]

#: Filterable edge host properties and how to read them from a host.
EDGE_HOST_PROPERTIES: dict[str, Callable[[Host], list[str]]] = {
    "tags": lambda h: h.tag_strings,
    "state": lambda h: [h.state],
    "healthState": lambda h: [h.health if h.state != "unpaired" else ""],
    "architecture": lambda h: [h.arch],
    "name": lambda h: [h.name],
}

EDGE_HOST_SORT: dict[str, Callable[[Host], Any]] = {
    "environment": lambda h: "edge-native",
    "clusterName": lambda h: h.cluster[1] if h.cluster else "",
    "clusterState": lambda h: h.state,
    "healthState": lambda h: h.health,
    "creationTimestamp": lambda h: h.created,
    "lastModifiedTimestamp": lambda h: h.modified,
}

PROFILE_SORT: dict[str, Callable[[Profile], Any]] = {
    "profileName": lambda p: p.name,
    "environment": lambda p: p.cloud_type,
    "profileType": lambda p: p.type,
    "creationTimestamp": lambda p: p.created,
    "lastModifiedTimestamp": lambda p: p.created,
}


class SearchError(ValueError):
    """A filter Palette would reject (unknown property, unsupported condition)."""


def _string_match(actual: str, operator: str, wanted: str, ignore_case: bool) -> bool:
    if ignore_case:
        actual, wanted = actual.lower(), wanted.lower()
    if operator == "eq":
        return actual == wanted
    if operator == "contains":
        return wanted in actual
    if operator == "beginsWith":
        return actual.startswith(wanted)
    raise SearchError(f"unsupported string operator {operator!r}")


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _filter_matches(obj: Any, item: Mapping[str, Any], properties: Properties, schema: str) -> bool:
    prop = item.get("property")
    getter = properties.get(prop or "")
    if getter is None:
        raise SearchError(f"unsupported filter property {prop!r}; see {schema}")
    condition = item.get("condition") or {}
    if condition.get("bool") is not None:
        return bool(condition["bool"].get("value")) in getter(obj)
    cond = condition.get("string") or condition.get("keyValue")
    if cond is None:
        raise SearchError(f"filter on {prop!r} needs a string or bool condition")
    operator = cond.get("operator") or "eq"
    match = cond.get("match") or {}
    values = match.get("values") or []
    if not values:
        return True
    actual = [_text(a) for a in getter(obj)]
    hits = [
        any(_string_match(a, operator, str(v), bool(cond.get("ignoreCase"))) for a in actual) for v in values
    ]
    result = all(hits) if match.get("conjunction") == "and" else any(hits)
    return not result if cond.get("negation") else result


def _join(results: Iterable[bool], conjunction: str | None) -> bool:
    results = list(results)
    return any(results) if conjunction == "or" else all(results)


def filter_predicate(body: Mapping[str, Any], properties: Properties, schema: str) -> Callable[[Any], bool]:
    """A predicate for a v1SearchFilterSummarySpec over objects whose ``properties`` it may name (everything
    matches an empty body). ``schema`` is the path that lists the properties, for the error message."""
    spec = (body or {}).get("filter") or {}
    groups = spec.get("filterGroups") or []
    if not groups:
        return lambda obj: True
    for group in groups:
        for item in group.get("filters") or ():
            if item.get("property") not in properties:
                raise SearchError(f"unsupported filter property {item.get('property')!r}; see {schema}")

    def predicate(obj: Any) -> bool:
        return _join(
            (
                _join(
                    (_filter_matches(obj, f, properties, schema) for f in g.get("filters") or ()),
                    g.get("conjunction"),
                )
                for g in groups
            ),
            spec.get("conjunction"),
        )

    return predicate


def host_predicate(body: Mapping[str, Any]) -> Callable[[Host], bool]:
    """A predicate for an edge host search body."""
    return filter_predicate(body, EDGE_HOST_PROPERTIES, "/v1/dashboard/edgehosts/search/schema")


def sort_items(
    items: list, sort: Iterable[Mapping[str, Any]] | None, keys: Mapping[str, Callable], default: Callable
) -> list:
    """Stable multi-key sort: the body's sort spec, then the default order as tie-breaker."""
    items = sorted(items, key=default)
    for entry in reversed(list(sort or ())):
        getter = keys.get(entry.get("field") or "")
        if getter is None:
            raise SearchError(f"unsupported sort field {entry.get('field')!r}")
        items.sort(key=getter, reverse=entry.get("order") == "desc")
    return items


def _filter_string(value: str, spec: Mapping[str, Any]) -> bool:
    ignore = spec.get("ignoreCase", True)
    v = value.lower() if ignore else value
    for op in ("eq", "ne", "contains", "beginsWith"):
        wanted = spec.get(op)
        if wanted is None:
            continue
        w = wanted.lower() if ignore else wanted
        ok = {"eq": v == w, "ne": v != w, "contains": w in v, "beginsWith": v.startswith(w)}[op]
        if not ok:
            return False
    return True


def profile_predicate(body: Mapping[str, Any]) -> Callable[[Profile], bool]:
    """A predicate for a v1ClusterProfilesFilterSpec."""
    flt = (body or {}).get("filter") or {}
    environments = set(flt.get("environment") or ())
    types = set(flt.get("profileType") or ())
    name = flt.get("profileName") or {}
    scope = flt.get("scope")
    version = flt.get("version") or {}
    tags = flt.get("tags") or {}

    def predicate(p: Profile) -> bool:
        if environments and p.cloud_type not in environments:
            return False
        if types and p.type not in types:
            return False
        if name and not _filter_string(p.name, name):
            return False
        if scope and p.scope != scope:
            return False
        if version.get("eq") and p.version != version["eq"]:
            return False
        if version.get("beginsWith") and not p.version.startswith(version["beginsWith"]):
            return False
        if tags.get("eq"):
            have = {f"{k}:{v}" for k, v in p.labels.items()} | set(p.labels)
            if not set(tags["eq"]) <= have:
                return False
        return True

    return predicate


def newest_per_name(profiles: Iterable[Profile]) -> list[Profile]:
    """The newest version of each profile name (per scope and project): what the profile search lists."""
    newest: dict[tuple, Profile] = {}
    for p in profiles:
        key = (p.name, p.scope, p.project_uid)
        if key not in newest or version_key(p.version) > version_key(newest[key].version):
            newest[key] = p
    return list(newest.values())


def encode_token(offset: int, count: int) -> str:
    """A continue token for the page starting at ``offset``."""
    raw = json.dumps({"offset": offset, "count": count, "token": ""}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_token(token: str) -> int:
    """The offset in a continue token; SearchError if it is not one of ours."""
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        offset = int(data["offset"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise SearchError("invalid continue token") from None
    if offset < 0:
        raise SearchError("invalid continue token")
    return offset


def page(items: list, *, limit: int, offset: int, stuck: bool = False) -> tuple[list, dict[str, Any]]:
    """One page and its listmeta. ``stuck`` simulates a server that repeats the second token."""
    chunk = items[offset : offset + limit]
    nxt = offset + len(chunk)
    token = encode_token(nxt, len(items)) if nxt < len(items) else ""
    if stuck and token:
        token = encode_token(limit, len(items))
    return chunk, {"continue": token, "count": len(items), "limit": limit, "offset": nxt}


def schema_property(name: str, display: str, kind: str = "string", enum: list[str] | None = None) -> dict:
    """One property of a search schema answer (v1SearchFilterSchemaSpec), with its enum values if any."""
    prop = {"name": name, "displayName": display, "type": kind, "hideDisplay": False, "isDeprecated": False}
    if enum:
        prop["enum"] = enum
        prop["enumValues"] = [{"value": v, "displayValue": v} for v in enum]
    return prop
