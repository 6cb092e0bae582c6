"""YAML manifests in and out: the dispatcher behind `manage.py apply/export/delete` and the UI's import box.

A file holds Kubernetes-style documents (apiVersion, kind, metadata, spec). Each kind has a
`Handler` in the app that owns it (`tenancy.manifests`, `integrations.manifests`,
`compute.manifests`), listed by dotted path in HANDLER_MODULES and imported on first use, so
this module never imports an app at import time (imports flow palette ← core ← tenancy ← ...).

The flow is the same for apply and delete: parse (YAML safe loader, size and depth limits),
check each document's envelope, let the handlers validate every document and then the
cross-document rules (a Project whose namespace the same file creates, Settings whose Secrets
are in the file), and only when there is no problem at all run every change inside one
transaction: all or nothing. Applying the same file twice reports "unchanged" and writes nothing.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypedDict, Unpack

import yaml
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .state_warnings import after_change

HANDLER_MODULES = (
    "tenancy.manifests",
    "integrations.manifests",
    "compute.manifests",
    "notifications.manifests",
)
MAX_BYTES = 1024 * 1024
MAX_DOCUMENTS = 500
REDACTED = "REDACTED"
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
# Fields Kubernetes adds on the server; a manifest copied from `kubectl get -o yaml` may carry them.
SERVER_METADATA = frozenset(
    {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "annotations"}
)
TYPE_NAMES = {
    str: "text",
    bool: "true/false",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "a mapping",
    type(None): "empty",
}


class Handler:
    """How one kind is validated, applied, deleted and exported. Apps subclass it, one per kind.

    `order` sets the apply and export order (lower first) and the reverse delete order; it never
    matters for validation, which always sees the whole file.
    """

    kind = ""
    api_versions: tuple[str, ...] = ()
    namespaced = True
    order = 100
    body_keys: tuple[str, ...] = ("spec",)

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        """May `user` (not a superuser) make this change? Only asked when a user is given."""
        return False

    def validate(self, doc: Document, plan: Plan) -> None:
        """Check one document on its own; report with plan.error and keep values in doc.state."""

    def check(self, plan: Plan) -> None:
        """Cross-document rules, run once per file after every document was validated."""

    def apply(self, doc: Document, plan: Plan) -> str:
        """Write the document; return "created", "configured" or "unchanged"."""
        raise NotImplementedError

    def validate_delete(self, doc: Document, plan: Plan) -> None:
        """Refuse a deletion (plan.error) that would break what stays."""

    def delete(self, doc: Document, plan: Plan) -> str:
        """Delete what the document names; return "deleted" or "not found"."""
        raise NotImplementedError

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        """The stored objects of this kind as manifests (one namespace, or all)."""
        return []

    def amend_export(self, documents: list[dict]) -> None:
        """Add what this app knows to other kinds' exported manifests (e.g. a Tenant's settingsRef)."""


def handlers() -> dict[str, Handler]:
    """Kind → handler, from every module in HANDLER_MODULES (imported here, not at import time)."""
    return _load(tuple(HANDLER_MODULES))  # keyed on the list, so an app that extends it later is seen


@cache
def _load(modules: tuple[str, ...]) -> dict[str, Handler]:
    found: dict[str, Handler] = {}
    for path in dict.fromkeys(modules):
        for handler in importlib.import_module(path).HANDLERS:
            found[handler.kind] = handler
    return found


@dataclass
class Document:
    """One YAML document of a file, its envelope read out, and what its handler learnt while validating."""

    index: int
    body: Any
    kind: str = ""
    api_version: str = ""
    name: str = ""
    namespace: str = ""
    handler: Handler | None = None
    valid: bool = False
    state: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        name = self.name if len(self.name) <= 80 else self.name[:77] + "..."
        where = f"{self.namespace}/{name}" if self.namespace else name
        return f"{self.kind} {where}".strip() if self.kind else ""

    def get(self, path: str) -> Any:
        """The value at a dotted path ("spec.settingsRef.name"), or MISSING."""
        value = self.body
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
        return value


@dataclass
class Change:
    kind: str
    name: str
    namespace: str
    action: str

    def __str__(self) -> str:
        where = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{where} {self.action}"


@dataclass
class Result:
    """What apply or delete did: `changes` when it worked, else `errors` (and nothing was written)."""

    errors: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False
    warnings: list[str] = field(
        default_factory=list
    )  # about the state the change leaves (core.state_warnings)

    @property
    def ok(self) -> bool:
        return not self.errors


class Plan:
    """The documents of one file, the problems found so far, and who is acting.

    Handlers use `find` to look across documents and the typed readers (`text`, `integer`,
    `mapping`) that report a problem and return None when a value is wrong.
    """

    def __init__(
        self,
        source: str,
        *,
        user: Any = None,
        request: Any = None,
        audit_source: str = "cli",
        deleting: bool = False,
    ):
        self.source = source
        self.user = user
        self.request = request
        self.audit_source = audit_source
        self.deleting = deleting
        self.warnings: list[str] = []
        self.documents: list[Document] = []
        self._problems: list[
            tuple[int, int, str]
        ] = []  # (document index, sequence, message): listed in file order
        self.secrets: set[str] = set()  # values that must never appear in a message

    # Reporting ----------------------------------------------------------------------------
    def error(self, doc: Document | None, path: str, message: str) -> None:
        where = f"{self.source}: "
        if doc is not None:
            where += f"document {doc.index}" + (f" ({doc.label})" if doc.label else "") + ": "
        text = f"{where}{path}: {message}" if path else f"{where}{message}"
        self._problems.append((doc.index if doc else 0, len(self._problems), text))

    @property
    def errors(self) -> list[str]:
        return [text for _, _, text in sorted(self._problems)]

    def scrubbed_errors(self) -> list[str]:
        """Errors in file order with any secret value of the file replaced, longest first (a key inside a
        JSON value)."""
        secrets = sorted((s for s in self.secrets if len(s) >= 8), key=len, reverse=True)
        out = []
        for message in self.errors:
            for secret in secrets:
                message = message.replace(secret, REDACTED)
            out.append(message)
        return out

    # Looking across documents -------------------------------------------------------------
    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d.valid and d.kind == kind]

    def find(self, kind: str, name: str, namespace: str = "") -> Document | None:
        return next((d for d in self.of_kind(kind) if d.name == name and d.namespace == namespace), None)

    # Typed readers ------------------------------------------------------------------------
    def mapping(self, doc: Document, path: str, *, keys: Iterable[str], required: bool = True) -> dict | None:
        """The mapping at `path`, with every key known; None (and a problem when required) otherwise."""
        value = doc.get(path)
        if value is MISSING or value is None:
            if required:
                self.error(doc, path, "required: add it.")
            return None
        if not isinstance(value, dict):
            self.error(doc, path, f"must be a mapping (key: value), not {type_name(value)}.")
            return None
        keys = tuple(keys)
        for key in value:
            if key not in keys:
                self.error(doc, f"{path}.{shorten(key)}", f"unknown field; expected {', '.join(keys)}.")
        return value

    def text(
        self,
        doc: Document,
        path: str,
        *,
        required: bool = True,
        default: str = "",
        max_length: int | None = None,
        validators: Iterable[Callable] = (),
    ) -> str | None:
        """The string at `path` (or `default` when optional and absent), checked by `validators`."""
        value = doc.get(path)
        if value is MISSING or value is None:
            if required:
                self.error(doc, path, "required: add it.")
                return None
            return default
        return self.check_text(doc, path, value, max_length=max_length, validators=validators)

    def check_text(
        self,
        doc: Document,
        path: str,
        value: Any,
        *,
        max_length: int | None = None,
        validators: Iterable[Callable] = (),
    ) -> str | None:
        if not isinstance(value, str):
            self.error(doc, path, f"must be a string, not {type_name(value)}; put the value in quotes.")
            return None
        if max_length is not None and len(value) > max_length:
            self.error(doc, path, f"at most {max_length} characters (this one has {len(value)}).")
            return None
        try:
            for validator in validators:
                validator(value)
        except ValidationError as exc:
            self.error(doc, path, " ".join(exc.messages))
            return None
        return value

    def integer(
        self, doc: Document, path: str, *, default: int = 0, minimum: int = 0, maximum: int = 100000
    ) -> int | None:
        value = doc.get(path)
        if value is MISSING or value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(doc, path, f"must be a whole number, not {type_name(value)}.")
            return None
        if not minimum <= value <= maximum:
            self.error(doc, path, f"must be between {minimum} and {maximum}.")
            return None
        return value

    def string_map(self, doc: Document, path: str) -> dict[str, str] | None:
        """A mapping of string to string (labels); None when absent or wrong."""
        value = doc.get(path)
        if value is MISSING or value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.error(doc, path, 'must map strings to strings; quote values such as "true" or "1".')
            return None
        return value


def type_name(value: Any) -> str:
    return TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def shorten(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Parsing ---------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """The safe loader (pure Python: the C loader crashes on deep nesting) refusing aliases and duplicate
    keys."""

    def compose_node(self, parent, index):
        # An alias (*name) repeats a node without copying it, so a few hundred bytes of nested aliases expand
        # to billions of values for whatever walks the result (an "alias bomb"). Manifests never need them:
        # refuse the first one while composing, before anything is expanded, checked or authorised.
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not accepted in manifests; write the value out",
                self.peek_event().start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        seen: set = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {shorten(key_node.value, 40)!r}; keep one",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _parse(text: str | bytes, plan: Plan) -> None:
    """Fill plan.documents from the text, or report why the file cannot be read."""
    if len(text if isinstance(text, bytes) else text.encode("utf-8", "replace")) > MAX_BYTES:
        plan.error(None, "", f"the file is larger than {MAX_BYTES // 1024} KiB; split it into several files.")
        return
    try:
        text = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError:
        plan.error(None, "", "the file is not UTF-8 text.")
        return
    try:
        for index, body in enumerate(yaml.load_all(text, Loader=_Loader), start=1):
            if index > MAX_DOCUMENTS:
                plan.error(None, "", f"more than {MAX_DOCUMENTS} documents; split the file.")
                return
            if body is not None:  # an empty document between two '---'
                plan.documents.append(Document(index=index, body=body))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        # Only the parser's own words: its snippet of the line could hold a secret value.
        context = f" ({exc.context})" if exc.context else ""
        plan.error(None, "", f"{where}not valid YAML: {exc.problem}{context}.")
        return
    except yaml.YAMLError as exc:
        plan.error(None, "", f"not valid YAML: {shorten(exc, 200)}.")
        return
    except RecursionError:
        plan.error(None, "", "the YAML is nested too deeply to be a manifest.")
        return
    if not plan.documents:
        plan.error(None, "", "no manifests found: the file is empty or holds only comments.")
    for doc in plan.documents:
        # YAML's "\0" escape yields a NUL character, which PostgreSQL cannot store in text or JSON.
        try:
            path = _nul_path(doc.body)
        except RecursionError:
            plan.error(doc, "", "the YAML is nested too deeply to be a manifest.")
            continue
        if path is not None:
            plan.error(doc, path, "contains a NUL character (\\0), which cannot be stored: remove it.")


def _nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, child in value.items():
            where = f"{path}.{shorten(key)}" if path else shorten(key)
            if isinstance(key, str) and "\x00" in key:
                return where.replace("\x00", "\\0")
            found = _nul_path(child, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, child in enumerate(value):
            found = _nul_path(child, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _envelope(doc: Document, plan: Plan) -> None:
    """Read apiVersion, kind and metadata; find the handler. Marks the document valid when they are right."""
    handler = _handler_for(doc, plan)
    if handler is None:
        return
    kind, api_version, metadata = doc.kind, doc.body.get("apiVersion", MISSING), doc.body.get("metadata")
    # Problems that leave the identity (kind, namespace, name) known are reported, and the document is
    # still validated and findable by others, so that one slip does not cause knock-on messages elsewhere.
    if api_version not in handler.api_versions:
        shown = "missing" if api_version in (MISSING, None) else repr(shorten(api_version, 60))
        plan.error(
            doc, "apiVersion", f"{kind} needs apiVersion {' or '.join(handler.api_versions)} ({shown})."
        )
    if not isinstance(metadata, dict):
        plan.error(
            doc,
            "metadata",
            "required: a mapping with name" + (" and namespace." if handler.namespaced else "."),
        )
        return
    identified = _check_identity(doc, plan, handler, metadata)
    if not plan.deleting:
        _check_unknown_fields(doc, plan, handler, metadata)
    doc.api_version, doc.handler, doc.valid = api_version, handler, identified


def _handler_for(doc: Document, plan: Plan) -> Handler | None:
    """The handler of the document's kind (None after reporting why there is none).

    Sets the document's kind, and its name and namespace as far as metadata holds them as strings.
    """
    known = handlers()
    body = doc.body
    if not isinstance(body, dict):
        plan.error(
            doc,
            "",
            f"a manifest must be a mapping with apiVersion, kind and metadata, not {type_name(body)}.",
        )
        return None
    kind = body.get("kind", MISSING)
    if not isinstance(kind, str) or not kind:
        plan.error(
            doc,
            "kind",
            f"required: one of {', '.join(known)}." if kind in (MISSING, None, "") else "must be a string.",
        )
        return None
    doc.kind = kind
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        name, namespace = metadata.get("name"), metadata.get("namespace")
        doc.name = name if isinstance(name, str) else ""
        doc.namespace = namespace if isinstance(namespace, str) else ""
    handler = known.get(kind)
    if handler is None:
        plan.error(doc, "kind", f"unknown kind {shorten(kind, 40)!r}; this tool manages {', '.join(known)}.")
    return handler


def _check_identity(doc: Document, plan: Plan, handler: Handler, metadata: dict) -> bool:
    """Check metadata.name and metadata.namespace; return whether they identify the document."""
    identified = True
    kind = doc.kind
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        plan.error(
            doc,
            "metadata.name",
            "required: add it." if name in (None, "") else f"must be a string, not {type_name(name)}.",
        )
        identified = False
    namespace = metadata.get("namespace")
    if handler.namespaced and (not isinstance(namespace, str) or not namespace):
        plan.error(
            doc,
            "metadata.namespace",
            f"required: the namespace of the tenant or project the {kind} belongs to."
            if namespace in (None, "")
            else f"must be a string, not {type_name(namespace)}.",
        )
        identified = False
    if not handler.namespaced:
        doc.namespace = ""
        if namespace is not None:
            plan.error(doc, "metadata.namespace", f"{kind} is cluster-scoped: remove metadata.namespace.")
    return identified


def _check_unknown_fields(doc: Document, plan: Plan, handler: Handler, metadata: dict) -> None:
    """Report metadata keys and top-level fields that no manifest of the document's kind has."""
    for key in metadata:
        if key not in ("name", "namespace", "labels") and key not in SERVER_METADATA:
            plan.error(doc, f"metadata.{shorten(key)}", "unknown field; expected name, namespace, labels.")
    fields = ("apiVersion", "kind", "metadata", *handler.body_keys)
    for key in doc.body:
        if key not in (*fields, "status"):
            plan.error(doc, shorten(key), f"unknown field; a {doc.kind} has {', '.join(fields)}.")


def _prepare(text: str | bytes, plan: Plan) -> None:
    _parse(text, plan)
    if plan.errors:
        # An unreadable file: documents before the YAML error would only give misleading messages.
        plan.documents.clear()
        return
    seen: dict[tuple[str, str, str], int] = {}
    for doc in plan.documents:
        _envelope(doc, plan)
        if not doc.valid:
            continue
        key = (doc.kind, doc.namespace, doc.name)
        if key in seen:
            plan.error(
                doc, "metadata.name", f"document {seen[key]} already defines this {doc.kind}; keep one."
            )
            doc.valid = False
        else:
            seen[key] = doc.index


def _authorize(plan: Plan) -> bool:
    """With a user (the web UI), refuse documents their role does not allow; True when one was refused.

    Runs before validation so that messages never reveal objects the user may not see.
    """
    if plan.user is None or getattr(plan.user, "is_superuser", False):
        return False
    refused = False
    for doc in plan.documents:
        if doc.valid and not doc.handler.authorize(doc, plan, plan.user):
            plan.error(
                doc,
                "",
                f"your role does not allow {'deleting' if plan.deleting else 'changing'} this {doc.kind}.",
            )
            refused = True
    return refused


class _Abort(Exception):
    pass


def _run(
    plan: Plan, step: Callable[[Document], str], documents: list[Document], dry_run: bool
) -> list[Change]:
    """Run `step` on every document inside one transaction; any failure rolls all of it back."""
    changes: list[Change] = []
    try:
        with transaction.atomic():
            for doc in documents:
                try:
                    action = step(doc)
                except ValidationError as exc:
                    plan.error(doc, "", " ".join(exc.messages))
                    raise _Abort from None
                except IntegrityError:
                    plan.error(
                        doc, "", "conflicts with a change made at the same time; run the command again."
                    )
                    raise _Abort from None
                changes.append(Change(doc.kind, doc.name, doc.namespace, action))
            if not plan.deleting:
                # Inside the transaction, so a dry run warns about the state it would leave.
                plan.warnings += after_change(doc.namespace for doc in documents)
            if dry_run:
                transaction.set_rollback(True)
    except _Abort:
        return []
    return changes


class Options(TypedDict, total=False):
    """The keyword arguments of apply_text and delete_text; their defaults are _process's."""

    user: Any
    request: Any
    dry_run: bool
    source: str
    audit_source: str | None


def _process(
    text: str | bytes,
    *,
    deleting: bool,
    user: Any = None,
    request: Any = None,
    dry_run: bool = False,
    source: str = "manifest",
    audit_source: str | None = None,
) -> Result:
    plan = Plan(
        source,
        user=user,
        request=request,
        audit_source=audit_source or ("web" if request is not None else "cli"),
        deleting=deleting,
    )
    _prepare(text, plan)
    if not _authorize(plan):
        # Documents with a bad envelope are skipped; every other one is still checked, so all problems
        # are listed.
        # Handler order, so a Project sees its Tenant document's checked values whatever the file order.
        for doc in sorted((d for d in plan.documents if d.valid), key=lambda d: (d.handler.order, d.index)):
            (doc.handler.validate_delete if deleting else doc.handler.validate)(doc, plan)
        if not deleting:
            for handler in handlers().values():
                handler.check(plan)
    changes: list[Change] = []
    if not plan.errors:
        if deleting:
            ordered = sorted(plan.documents, key=lambda d: (-d.handler.order, d.index))
            changes = _run(plan, lambda doc: doc.handler.delete(doc, plan), ordered, dry_run)
        else:
            ordered = sorted(plan.documents, key=lambda d: (d.handler.order, d.index))
            changes = _run(plan, lambda doc: doc.handler.apply(doc, plan), ordered, dry_run)
    return Result(
        errors=plan.scrubbed_errors(),
        changes=changes,
        dry_run=dry_run,
        warnings=plan.warnings if changes else [],
    )


def apply_text(text: str | bytes, **options: Unpack[Options]) -> Result:
    """Validate every document of `text` and, when nothing is wrong, apply all of them in one transaction.

    Idempotent: an object whose stored state already matches is "unchanged" and gets no write and
    no audit entry. With `dry_run` the changes are computed and rolled back. `source` names the
    file in messages; `user` (the web UI) limits what may be changed to that user's roles;
    `audit_source` defaults to "web" with a request and "cli" without.
    """
    return _process(text, deleting=False, **options)


def delete_text(text: str | bytes, **options: Unpack[Options]) -> Result:
    """Delete every object the documents of `text` name (only apiVersion, kind and metadata are read).

    Refuses, with the reason, deletions that would leave something broken (a Project or Tenant
    whose compute pools are not Deleted, a Secret that Settings still use, unless the file deletes
    those Settings too). All or nothing; an object that does not exist is reported as "not found".
    """
    return _process(text, deleting=True, **options)


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str):
    # PEM bundles and pretty JSON read best as block literals.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


# Keys whose values are secret wherever they appear in a pasted document (a ComputePool's
# profileVariables may hold masked values).
SECRET_FIELD_NAMES = frozenset(
    {"apikey", "token", "password", "secret", "data", "stringdata", "ca.crt", "profilevariables"}
)
# For text that does not parse: a secret-like word, or a run of key-like characters long enough to be a key.
SECRET_LOOKING = re.compile(
    r"secret|stringdata|\bdata\s*[\"']?\s*:|apikey|token|password|ca\.crt|private key|[A-Za-z0-9+/=_\-]{20,}",
    re.IGNORECASE,
)


def may_hold_secrets(text: str | bytes) -> bool:
    """Could `text` carry a secret value? Decided from the parsed documents when the text parses.

    A readable paste holds one when a document is a Secret, has a key named like a secret field
    (apiKey, token, data, stringData, ...) or PEM private key material, however it is spelt (JSON,
    escapes, flow style). Text that does not parse is judged by its look, erring towards "yes":
    a secret-like word or a long key-like run of characters. Only a paste judged free of secrets
    may be shown back on a page.
    """
    plan = Plan("paste")
    _parse(text, plan)
    if plan.errors:
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return bool(SECRET_LOOKING.search(raw))
    return any(_holds_secret(doc.body) for doc in plan.documents)


def _holds_secret(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return True  # deeper than any manifest: do not look further, assume the worst
    if isinstance(value, dict):
        if str(value.get("kind", "")).strip().lower() == "secret":
            return True
        return any(
            str(key).strip().lower() in SECRET_FIELD_NAMES
            or _holds_secret(key, depth + 1)
            or _holds_secret(child, depth + 1)
            for key, child in value.items()
        )
    if isinstance(value, list):
        return any(_holds_secret(child, depth + 1) for child in value)
    return isinstance(value, str) and "PRIVATE KEY" in value


def export_text(namespace: str | None = None, show_secrets: bool = False) -> str:
    """Every Tenant, Project, Secret and Settings (or those of one namespace) as YAML that apply accepts.

    Secret values are written as REDACTED unless `show_secrets`; the header says which it is.
    """
    ordered = sorted(handlers().values(), key=lambda h: h.order)
    documents: list[dict] = []
    for handler in ordered:
        documents.extend(handler.export(namespace, show_secrets))
    for handler in ordered:
        handler.amend_export(documents)
    scope = f"namespace {namespace}" if namespace else "all namespaces"
    if show_secrets:
        header = (
            f"# PaletteAI Admin export ({scope}). Contains secret values in plain text:\n"
            "# store this file as carefully as the secrets themselves.\n"
        )
    else:
        header = (
            f"# PaletteAI Admin export ({scope}). Secret values are {REDACTED}: this file documents the\n"
            "# configuration but cannot be applied as is. Export with --show-secrets to include them.\n"
        )
    if not documents:
        return header + "# No objects found.\n"
    return header + yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=True,
        width=4096,
    )
