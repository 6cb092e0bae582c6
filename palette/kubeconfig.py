"""Whether a text Palette returned for a cluster's kubeconfig is one.

Palette answers the kubeconfig assets with an empty file until the overview's ``kubeMeta.hasKubeConfig`` is
true, a while after the cluster is Running (palette-sdk-go client/cluster.go ``GetClusterKubeConfig`` returns
"" then; docs/palette-behaviour.md §14), and a proxy in front of it may answer a login page. ``problem``
says what is wrong with a text in words that never quote it: a kubeconfig is a credential, so neither its
text nor a parser's message (which quotes the offending line) may reach a log, an exception or the page.
"""

from __future__ import annotations

from typing import Any

import yaml


def problem(text: str | None) -> str:
    """Why ``text`` is not a usable kubeconfig, or "" when it is one.

    A kubeconfig is a YAML mapping with ``kind: Config``, an ``apiVersion``, at least one cluster with a
    ``server``, at least one user and at least one context (what kubectl needs to connect without flags).
    """
    if text is None or not text.strip():
        return "the file is empty"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return f"it is not YAML{where}"
    except (ValueError, RecursionError):
        return "it is not YAML"
    if not isinstance(data, dict):
        return f"it is not a YAML mapping but {_kind_of(data)}"
    if data.get("kind") != "Config":
        return 'it has no "kind: Config"' if "kind" not in data else 'its kind is not "Config"'
    if not isinstance(data.get("apiVersion"), str) or not data["apiVersion"].strip():
        return "it has no apiVersion"
    clusters = _entries(data, "clusters")
    if not clusters:
        return "it lists no clusters"
    if not any(
        isinstance(c.get("cluster"), dict)
        and isinstance(c["cluster"].get("server"), str)
        and c["cluster"]["server"].strip()
        for c in clusters
    ):
        return "no cluster in it has a server"
    if not _entries(data, "users"):
        return "it lists no users"
    if not _entries(data, "contexts"):
        return "it lists no contexts"
    return ""


def _entries(data: dict, key: str) -> list[dict]:
    value = data.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty (null or comments only)"
    return {str: "a string", list: "a list", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "another value"
    )
