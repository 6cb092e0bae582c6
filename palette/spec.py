"""The Palette API contract: the Swagger 2.0 subset, and validation against it.

The spec subset (cut unchanged from "Palette APIs 4.8") is the contract both sides are held to:
every request body the client sends and every response the simulator returns must validate
against it with ``jsonschema``. This module loads it once, matches concrete paths to the spec's
path templates, and validates bodies, query parameters and responses, resolving
``#/definitions/...`` references inside the document.

Where the spec is found: the ``PALETTE_SPEC_PATH`` environment variable, else the copy shipped in
``palette/spec/``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

_PACKAGED = Path(__file__).resolve().parent / "spec" / "palette-apis-subset.json"

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class SpecViolation(Exception):
    """A body, parameter or response that does not match the spec subset.

    ``problems`` lists one human-readable line per violation (JSON path and reason).
    """

    def __init__(self, what: str, problems: list[str]):
        self.what = what
        self.problems = problems
        super().__init__(f"{what} does not match the Palette API spec: " + "; ".join(problems[:5]))


def spec_path() -> Path:
    """Return the path of the spec file in use (environment, else the packaged copy)."""
    env = os.environ.get("PALETTE_SPEC_PATH")
    if env:
        return Path(env)
    return _PACKAGED


@dataclass(frozen=True)
class Operation:
    """One operation of the spec: method, path template and its parameters and responses."""

    method: str
    template: str
    operation_id: str
    parameters: tuple[dict, ...]
    responses: Mapping[str, dict]
    produces: tuple[str, ...] = ("application/json",)
    literal_segments: int = 0
    _regex: re.Pattern = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @property
    def body_schema(self) -> dict | None:
        """The schema of the ``in: body`` parameter, if the operation takes a body."""
        for p in self.parameters:
            if p.get("in") == "body":
                return p.get("schema")
        return None

    def query_parameters(self) -> dict[str, dict]:
        """The ``in: query`` parameters by name."""
        return {p["name"]: p for p in self.parameters if p.get("in") == "query"}

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters if ``path`` matches this operation's template, else None."""
        m = self._regex.match(path)
        return m.groupdict() if m else None


class Spec:
    """The loaded spec subset: operations, definitions and cached validators."""

    def __init__(self, document: dict):
        self.document = document
        self.definitions: dict = document.get("definitions", {})
        self.operations: list[Operation] = []
        for template, item in document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    continue
                # Operation-level parameters override path-level ones with the same name and location.
                params = {(p.get("name"), p.get("in")): p for p in shared}
                params.update({(p.get("name"), p.get("in")): p for p in op.get("parameters", [])})
                segments = template.strip("/").split("/")
                pattern = (
                    "^/"
                    + "/".join(
                        f"(?P<{s[1:-1]}>[^/]+)" if s.startswith("{") else re.escape(s) for s in segments
                    )
                    + "$"
                )
                self.operations.append(
                    Operation(
                        method=method.upper(),
                        template=template,
                        operation_id=op.get("operationId", ""),
                        parameters=tuple(params.values()),
                        responses=op.get("responses", {}),
                        produces=tuple(
                            op.get("produces") or document.get("produces") or ("application/json",)
                        ),
                        literal_segments=sum(1 for s in segments if not s.startswith("{")),
                        _regex=re.compile(pattern),
                    )
                )
        # Literal segments win over parameters ("/v1/edgehosts/tags" before "/v1/edgehosts/{uid}").
        self.operations.sort(key=lambda o: -o.literal_segments)
        error_defs = document.get("x-error", {}).get("definitions", {})
        self._error_schema = error_defs.get("V1Error", {"type": "object"})

    # -- lookup ---------------------------------------------------------------------------

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation for a concrete method and path, with its path parameters."""
        method = method.upper()
        for op in self.operations:
            if op.method == method:
                params = op.match(path)
                if params is not None:
                    return op, params
        return None

    def operation(self, method: str, template: str) -> Operation:
        """The operation for a method and an exact path template; KeyError if absent."""
        for op in self.operations:
            if op.method == method.upper() and op.template == template:
                return op
        raise KeyError(f"{method.upper()} {template} is not in the spec subset")

    def allowed_methods(self, path: str) -> list[str]:
        """Methods the spec declares for a concrete path (empty if the path is unknown)."""
        return sorted({op.method for op in self.operations if op.match(path) is not None})

    # -- validation -----------------------------------------------------------------------

    def validator(self, schema: dict) -> jsonschema.protocols.Validator:
        """A Draft 4 validator for a (possibly ``$ref``) schema, resolving ``#/definitions``."""
        return _validator(self, json.dumps(schema, sort_keys=True))

    def problems(self, schema: dict, instance: Any) -> list[str]:
        """Violations of ``schema`` by ``instance``, as readable lines (empty if valid)."""
        errors = sorted(self.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]

    def validate_request(
        self, method: str, template: str, body: Any = None, query: Mapping[str, Any] | None = None
    ) -> None:
        """Raise SpecViolation if the body or query parameters break the operation's spec."""
        op = self.operation(method, template)
        problems: list[str] = []
        schema = op.body_schema
        if body is not None and schema is None:
            problems.append("operation takes no body")
        elif body is not None:
            problems += self.problems(schema, body)
        params = op.query_parameters()
        for name, value in (query or {}).items():
            if name not in params:
                problems.append(f"query parameter {name!r} is not declared")
                continue
            problems += [f"query {name}: {p}" for p in parameter_problems(params[name], value)]
        if problems:
            raise SpecViolation(f"{method.upper()} {template} request", problems)

    def validate_response(self, method: str, template: str, status: int, body: Any) -> None:
        """Raise SpecViolation if a response body breaks the spec for that status.

        Error statuses (>= 400) are checked against Palette's error body (``x-error`` V1Error),
        with ``code`` allowed to be an integer too: go-swagger framework errors (405, 422) carry
        integer codes on the real API, which the published error schema does not show.
        """
        op = self.operation(method, template)
        what = f"{method.upper()} {template} response {status}"
        if status >= 400:
            schema = dict(self._error_schema)
            props = dict(schema.get("properties", {}))
            props["code"] = {"type": ["string", "integer"]}
            schema["properties"] = props
            problems = self.problems(schema, body) if body is not None else []
        else:
            declared = op.responses.get(str(status))
            if declared is None:
                raise SpecViolation(
                    what, [f"status {status} is not declared (declared: {sorted(op.responses)})"]
                )
            schema = declared.get("schema")
            if schema is None:
                problems = [] if body in (None, b"", "") else ["no body is declared for this status"]
            elif schema.get("type") == "string" and schema.get("format") == "binary":
                problems = [] if isinstance(body, (bytes, str)) else ["expected a binary body"]
            else:
                problems = self.problems(schema, body)
        if problems:
            raise SpecViolation(what, problems)


def parameter_problems(param: Mapping[str, Any], value: Any) -> list[str]:
    """Check one query/path parameter value (as received, maybe a string) against its declaration."""
    kind = param.get("type")
    problems: list[str] = []
    if kind == "integer":
        try:
            number = int(value)
        except (TypeError, ValueError):
            return [f"{value!r} is not an integer"]
        if "maximum" in param and number > param["maximum"]:
            problems.append(f"{number} is greater than the maximum {param['maximum']}")
        if "minimum" in param and number < param["minimum"]:
            problems.append(f"{number} is less than the minimum {param['minimum']}")
    elif kind == "boolean":
        if str(value).lower() not in ("true", "false"):
            problems.append(f"{value!r} is not a boolean")
    if "enum" in param and value not in param["enum"]:
        problems.append(f"{value!r} is not one of {param['enum']}")
    return problems


def _json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@functools.lru_cache(maxsize=256)
def _validator(spec: Spec, schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    # Embedding the definitions makes "#/definitions/x" resolve against the spec document.
    root = {**schema, "definitions": spec.definitions}
    return jsonschema.Draft4Validator(root)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Spec:
    with open(path, encoding="utf-8") as fh:
        return Spec(json.load(fh))


def load_spec(path: str | os.PathLike | None = None) -> Spec:
    """The spec subset (cached per path); see the module docstring for where it is found."""
    return _load(str(path or spec_path()))
