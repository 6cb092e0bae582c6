"""Edge host discovery: page through Palette's edge host search and reconcile the inventory.

Upserts by uid with bulk writes (a few statements per write; pages that came fast are written together,
new hosts with COPY on PostgreSQL), records what changed, and marks hosts not seen as gone only after a
complete, successful scan: a failed or partial scan never removes or alters hosts it did not see.

One bad host never fails the scan: what Palette sends is made storable first (`bounded_facts`:
NULs and unencodable characters removed, text cut to its column with a marker, numbers outside
their column dropped), and a host whose uid cannot identify it, or whose record cannot be read,
is skipped. Both are listed on the run (`DiscoveryRun.host_problems`), which the inventory shows.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import time
import uuid
import zlib
from dataclasses import astuple
from itertools import islice

from django.db import connection, models, transaction
from django.utils import timezone

from core.tasks import start_once
from integrations.effective import run_with_palette
from palette.models import EdgeHost as PaletteHost
from tenancy.models import Project

from .eligibility import Policy, reasons
from .models import DiscoveryPolicy, DiscoveryRun, EdgeHost, HostChange

log = logging.getLogger(__name__)
PAGE = 50
GPU_MODEL_SEPARATOR = " | "  # model names contain spaces ("GA100 [A100 PCIe 40GB]")
PROGRESS_EVERY = 0.5  # seconds between progress writes
# Hosts judged that are written at once, without waiting for PROGRESS_EVERY: a bound on memory and on one
# transaction. Fewer, larger writes cost less (at 1,000, a first scan of 10,000 takes 0.1-0.2x a bare
# fetch longer).
WRITE_HOSTS = 5000
# What discovery stores from Palette; a change in any of these is a change of the host.
FACT_FIELDS = (
    "name",
    "state",
    "health",
    "health_message",
    "architecture",
    "cpu_cores",
    "memory_mib",
    "gpus",
    "gpu_total",
    "gpu_models",
    "tags",
    "clusters",
    "ip",
    "nics",
    "palette_project_uid",
)
STORED_FIELDS = FACT_FIELDS + (
    "eligible",
    "reasons",
    "fingerprint",
    "last_seen",
    "changed",
    "gone",
    "gone_since",
)
# Limits come from the model, so a column and its check never disagree. health_message is a TextField:
# bounded here all the same, since a reason quoting it is shown in every row of the grid.
TEXT_LIMITS = {
    f: EdgeHost._meta.get_field(f).max_length or 1000
    for f in (
        "name",
        "state",
        "health",
        "health_message",
        "architecture",
        "gpu_models",
        "ip",
        "palette_project_uid",
    )
}
INT_FIELDS = ("cpu_cores", "memory_mib", "gpu_total")
JSON_FIELDS = ("gpus", "tags", "clusters", "nics")
UID_MAX = EdgeHost._meta.get_field("uid").max_length
INT_MAX = 2**31 - 1  # PostgreSQL's integer, what PositiveIntegerField is there
CUT = "…"  # marks text cut to fit its column
PROBLEMS_KEPT = 50  # hosts listed on a run; the counts cover all of them
# A host's fingerprint is FACTS_DIGITS hex digits of its facts' sha256, then the rest of the column of the
# policy's that judged it: a change of either rewrites the host, and re-judging a stored host by a new
# policy needs only its fingerprint, not the facts it was taken of.
FINGERPRINT_DIGITS = EdgeHost._meta.get_field("fingerprint").max_length
FACTS_DIGITS = 48
# PostgreSQL refuses NUL in text and jsonb; a lone surrogate (JSON "\ud800") cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def facts(host: PaletteHost) -> dict:
    """The stored facts of one Palette edge host."""
    nics = (host.raw.get("spec") or {}).get("device", {}).get("nics") or []
    gpus = [
        {"vendor": g.vendor, "model": g.model, "count": g.count, "memoryMiB": g.memory_mib} for g in host.gpus
    ]
    ip = (
        host.host_address
        or next((n.get("ip") for n in nics if n.get("isDefault")), "")
        or next((n.get("ip") for n in nics if n.get("ip")), "")
    )
    return {
        "name": host.name,
        "state": host.state,
        "health": host.health,
        "health_message": host.health_message,
        "architecture": host.architecture,
        "cpu_cores": host.cpu_cores,
        "memory_mib": host.memory_mb,
        "gpus": gpus,
        "gpu_total": host.gpu_count,
        "gpu_models": GPU_MODEL_SEPARATOR.join(sorted({g["model"] for g in gpus if g["model"]})),
        "tags": dict(host.labels),
        "clusters": sorted(c.name or c.uid for c in host.in_use_clusters),
        "ip": ip or "",
        "nics": [{k: n.get(k) for k in ("nicName", "ip", "subnet", "macAddr", "isDefault")} for n in nics],
        "palette_project_uid": host.project.uid if host.project else "",
    }


def _storable(text: str) -> str:
    """`text` without NUL characters, a lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def shown(value, limit: int = 80) -> str:
    """A value from Palette as a report may quote it: text, storable, at most `limit` characters."""
    text = _storable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= limit else text[: limit - 1] + CUT


def unusable_uid(uid) -> str:
    """Why `uid` cannot identify a host (empty when it can). It is never altered: it is the host's name in
    Palette."""
    if not isinstance(uid, str) or not uid:
        return "Palette sent it without a uid"
    if len(uid) > UID_MAX:
        return f"its uid has {len(uid)} characters; at most {UID_MAX} can be stored"
    if _UNPRINTABLE.search(uid):
        return "its uid contains control characters (NUL, newline...) or invalid Unicode"
    return ""


def _bounded_json(value, notes: set[str], field: str):
    """`value` (decoded JSON) with every string storable and every non-finite number dropped (jsonb refuses
    both)."""
    if isinstance(value, str):
        cleaned = _storable(value)
        if cleaned != value:
            notes.add(f"{field}: removed NUL characters or invalid Unicode")
        return cleaned
    if isinstance(value, dict):
        return {_bounded_json(str(k), notes, field): _bounded_json(v, notes, field) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded_json(v, notes, field) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        notes.add(f"{field}: dropped a number that is not finite ({value})")
        return None
    return value


def fingerprint(facts_digest: str, policy: Policy) -> str:
    """A host's fingerprint: the start of its facts' digest (or of its stored fingerprint), then the
    policy's."""
    return facts_digest[:FACTS_DIGITS] + _policy_digest(policy)


@functools.lru_cache(maxsize=64)
def _policy_digest(policy: Policy) -> str:
    """The policy's part of a fingerprint; computed once per policy, not once per host."""
    return hashlib.sha256(json.dumps(astuple(policy)).encode()).hexdigest()[
        : FINGERPRINT_DIGITS - FACTS_DIGITS
    ]


def bounded_facts(host: PaletteHost) -> tuple[dict, str, list[str]]:
    """The host's facts made storable in every database, their digest (sha256), and what had to change to get
    there.

    Text: NULs and lone surrogates removed, cut to its column with a trailing "…". Whole numbers
    outside 0..2^31-1 (or not whole numbers) are not stored. JSON: strings cleaned likewise,
    NaN/Infinity dropped. Raises on a record of an unexpected shape (the caller skips the host).
    """
    values = facts(host)
    notes: set[str] = set()
    # The fingerprint's dump tells whether anything needs cleaning, at the cost of four substring tests:
    # NUL is written \u0000, a lone surrogate \udXXX (a valid pair too, which only costs the slow path),
    # NaN and Infinity as bare words. Almost every host needs only the length checks.
    dumped = _dump(values)
    dirty = "\\u0000" in dumped or "\\ud" in dumped or "NaN" in dumped or "Infinity" in dumped
    for field, limit in TEXT_LIMITS.items():
        value = values[field]
        if type(value) is str and len(value) <= limit and not dirty:
            continue
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        cleaned = _storable(text)
        if cleaned != text:
            notes.add(f"{field}: removed NUL characters or invalid Unicode")
        if len(cleaned) > limit:
            notes.add(f"{field}: cut to {limit} characters (it had {len(cleaned)})")
            cleaned = cleaned[: limit - 1] + CUT
        values[field] = cleaned
    for field in INT_FIELDS:
        value = values[field]
        if value is None or (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT_MAX
        ):
            continue
        notes.add(f"{field}: {shown(value, 40)} is not a whole number from 0 to {INT_MAX}; not stored")
        values[field] = 0 if field == "gpu_total" else None
    if dirty:
        for field in JSON_FIELDS:
            values[field] = _bounded_json(values[field], notes, field)
    if notes:
        dumped = _dump(values)
    return values, hashlib.sha256(dumped.encode()).hexdigest(), sorted(notes)


class _Problems:
    """Hosts a run skipped or had to clean: counted, and the first PROBLEMS_KEPT listed for the run's
    report."""

    def __init__(self):
        self.skipped = self.cleaned = 0
        self.listed: list[dict] = []

    def add(self, action: str, uid, name, detail: str) -> None:
        if action == "skipped":
            self.skipped += 1
        else:
            self.cleaned += 1
        if len(self.listed) < PROBLEMS_KEPT:
            self.listed.append({"uid": shown(uid), "name": shown(name), "action": action, "detail": detail})

    def fields(self) -> dict:
        return {"skipped": self.skipped, "cleaned": self.cleaned, "host_problems": self.listed}


def _dump(values: dict) -> str:
    """The facts as the text their fingerprint (sha256) is taken of."""
    return json.dumps(values, sort_keys=True, default=str)


class _Row:
    """Facts as attributes, for the eligibility check."""

    def __init__(self, values: dict):
        self.__dict__.update(values)


def policy_for(project: Project) -> Policy:
    p = DiscoveryPolicy.for_project(project)
    return Policy(p.tag_key, p.tag_value)


def start_discovery(project: Project, *, trigger: str = "manual", countdown: float = 0) -> DiscoveryRun:
    """Write a pending run (or return the active one) and enqueue it once the transaction commits, to start
    after `countdown` seconds."""
    return start_once(
        DiscoveryRun, "compute.discovery", target={"project": project}, trigger=trigger, countdown=countdown
    )


#: Scheduled discoveries start spread over this many seconds (at most), not all at once (under the
#: watchdog's RUN_RESEND_AFTER, so a waiting run is never re-sent).
SCHEDULE_SPREAD = 120


def schedule_offset(project: Project, interval: float) -> float:
    """Seconds after the beat at which `project`'s scheduled discovery starts: the same for a project every
    time (its scans stay an interval apart), different across projects, within a quarter of the interval and
    SCHEDULE_SPREAD, so many projects against one Palette share its rate limit instead of queueing at once."""
    spread = min(SCHEDULE_SPREAD, interval / 4)
    return (zlib.crc32(str(project.uuid).encode()) % 1000) / 1000 * spread


def run_discovery(run: DiscoveryRun, **client_kwargs) -> DiscoveryRun:
    """Claim and perform one discovery run; the run row records progress, outcome and the first error."""

    def work(client, palette):
        reconcile(run, client.iter_edge_hosts(project_uid=str(palette.value("defaultProjectID"))))

    client_kwargs.setdefault("lane", "bulk")  # a scan: interactive calls go first (palette.ratelimit)
    was_pending = run.status == run.PENDING
    run_with_palette(
        run, run.project, work, name=f"discovery {run.project}", what="Discovery", **client_kwargs
    )
    if was_pending and run.is_terminal:
        from .notify import discovery_finished

        discovery_finished(run)
    return run


def reconcile(run: DiscoveryRun, hosts) -> None:
    """Upsert `hosts` (an iterable of palette EdgeHost) page by page; mark the unseen gone at the end.

    Hosts are judged by the policy read when the scan starts; one saved during the scan is applied to
    every host at its end (recompute_eligibility), and the policy is part of each fingerprint, so a
    policy changed any other way re-judges every host at the next scan.
    Writes: the first page's hosts at once, then the pages judged since, together, once WRITE_HOSTS are
    waiting or PROGRESS_EVERY has passed (as the live bar moves), and the rest at the end: fewer, larger
    statements when Palette answers fast, each page as it comes when it answers slowly. Queries: one to
    load what is known, then per write a few statements in one transaction (see _write_page; a first
    scan: three) plus a progress update at most twice a second; unchanged hosts cause no write. If
    iterating `hosts` raises, the pages read before are written, and nothing unseen is touched.
    """
    scan = _Scan(run, policy_for(run.project), _known_hosts(run.project))
    iterator = iter(hosts)
    progress_written = time.monotonic()
    while batch := _next_page(iterator, scan):
        if not (scan.creates or scan.updates):
            scan.now = timezone.now()  # one time for the hosts written together and their history
        creates, updates = _judge_page(scan, batch, scan.now)
        scan.creates += creates
        scan.updates += updates
        scan.pages += 1
        waiting = len(scan.creates) + len(scan.updates)
        if waiting >= WRITE_HOSTS or time.monotonic() - scan.written >= PROGRESS_EVERY:
            _write_pending(scan)
        if time.monotonic() - progress_written >= PROGRESS_EVERY:
            # Progress for the live bar, at most twice a second rather than once a page.
            pages, hosts_seen = scan.pages, len(scan.seen)
            DiscoveryRun.objects.filter(pk=run.pk).update(
                pages=pages, hosts_seen=hosts_seen, progress={"pages": pages, "hosts_seen": hosts_seen}
            )
            progress_written = time.monotonic()
    _write_pending(scan)
    # The scan completed: now, and only now, hosts not seen are gone.
    removed = _mark_gone(scan)
    _record_outcome(scan, removed)
    recompute_eligibility(run.project, judged_by=scan.policy)


class _Scan:
    """One reconcile: the policy it judges by, what was known before it (by uid), the hosts judged and not
    yet written, and what it counted so far."""

    def __init__(self, run: DiscoveryRun, policy: Policy, known: dict[str, dict]):
        self.run, self.policy, self.known = run, policy, known
        self.seen: set[str] = set()
        self.problems = _Problems()
        self.pages = self.added = self.updated = self.unchanged = 0
        self.creates: list[dict] = []
        self.updates: list[tuple[dict, dict, str]] = []
        self.now = timezone.now()
        self.written = -math.inf  # the first page is written at once


def _write_pending(scan: _Scan) -> None:
    """Write the hosts judged since the last write, in one transaction: they and their history land together
    or not at all."""
    if scan.creates or scan.updates:
        with transaction.atomic(savepoint=False):
            scan.added += _write_page(scan.run, scan.creates, scan.updates, scan.now)
        scan.updated += len(scan.updates)
        scan.creates, scan.updates = [], []
    scan.written = time.monotonic()


def _known_hosts(project: Project) -> dict[str, dict]:
    """The project's hosts by uid: pk, fingerprint and gone only."""
    # One query loads what is known for the whole scan: uid, fingerprint and gone only — decoding
    # every host's JSON facts would cost more than the scan; changed hosts are read per page.
    return {
        uid: {"pk": pk, "fingerprint": fp, "gone": gone}
        for uid, pk, fp, gone in EdgeHost.objects.filter(project=project).values_list(
            "uid", "pk", "fingerprint", "gone"
        )
    }


def _next_page(iterator, scan: _Scan) -> list[PaletteHost]:
    """The next PAGE hosts (empty at the end); if reading them fails, the pages read before are written and
    the counts so far stored first."""
    try:
        return list(islice(iterator, PAGE))
    except Exception:
        # A failed scan still tells how far it got: the pages before the failure are stored.
        _write_pending(scan)
        DiscoveryRun.objects.filter(pk=scan.run.pk).update(
            pages=scan.pages,
            hosts_seen=len(scan.seen),
            added=scan.added,
            updated=scan.updated,
            unchanged=scan.unchanged,
            progress={"pages": scan.pages, "hosts_seen": len(scan.seen)},
            **scan.problems.fields(),
        )
        raise


def _judge_page(
    scan: _Scan, batch: list[PaletteHost], now
) -> tuple[list[dict], list[tuple[dict, dict, str]]]:
    """The page's new hosts (rows to insert, by field attname) and changed ones (known row, facts,
    fingerprint); unchanged ones counted."""
    creates, updates = [], []
    for palette_host in batch:
        read = _read(palette_host, scan.seen, scan.problems)
        if read is None:
            continue
        # Eligibility follows from the facts and the policy, both in the fingerprint: unchanged hosts skip it.
        uid, values, digest = read
        fp = fingerprint(digest, scan.policy)
        before = scan.known.get(uid)
        if before is not None and before["fingerprint"] == fp and not before["gone"]:
            scan.unchanged += 1
            continue
        values["reasons"] = [r.to_json() for r in reasons(_Row(values), scan.policy)]
        values["eligible"] = not values["reasons"]
        if before is None:
            creates.append(
                {
                    "project_id": scan.run.project_id,
                    "uid": uid,
                    "fingerprint": fp,
                    "first_seen": now,
                    "last_seen": now,
                    "changed": now,
                    **values,
                }
            )
            continue
        updates.append((before, values, fp))
    return creates, updates


def _mark_gone(scan: _Scan) -> int:
    """Mark the known hosts this complete scan did not see as gone, with their history; how many."""
    now = timezone.now()
    gone_ids = [row["pk"] for uid, row in scan.known.items() if uid not in scan.seen and not row["gone"]]
    if gone_ids:
        with transaction.atomic():
            EdgeHost.objects.filter(pk__in=gone_ids).update(gone=True, gone_since=now, changed=now)
            _insert_changes(
                [
                    {"host_id": pk, "run_id": scan.run.pk, "kind": HostChange.GONE, "created": now}
                    for pk in gone_ids
                ]
            )
    return len(gone_ids)


def _record_outcome(scan: _Scan, removed: int) -> None:
    """The scan's counts and problems, on the run object and its row."""
    # Unchanged hosts get no write, not even last_seen: a host that is not gone was seen by the
    # project's last successful run (see inventory.last_seen).
    run, problems = scan.run, scan.problems
    run.added, run.updated, run.removed, run.unchanged, run.pages, run.hosts_seen = (
        scan.added,
        scan.updated,
        removed,
        scan.unchanged,
        scan.pages,
        len(scan.seen),
    )
    run.skipped, run.cleaned, run.host_problems = problems.skipped, problems.cleaned, problems.listed
    DiscoveryRun.objects.filter(pk=run.pk).update(
        added=scan.added,
        updated=scan.updated,
        removed=removed,
        unchanged=scan.unchanged,
        pages=scan.pages,
        hosts_seen=len(scan.seen),
        **problems.fields(),
    )


def _read(palette_host: PaletteHost, seen: set[str], problems: _Problems) -> tuple[str, dict, str] | None:
    """(uid, storable facts, their digest) of a host new to this scan; None for a repeat or a skipped one
    (reported)."""
    uid = palette_host.uid
    if why := unusable_uid(uid):
        problems.add("skipped", uid, palette_host.name, why)
        return None
    if uid in seen:
        return None  # a host listed twice (pages shifting under us) counts once
    # Seen even when unreadable below: a host Palette still lists is never marked gone.
    seen.add(uid)
    try:
        values, fp, notes = bounded_facts(palette_host)
    except Exception as exc:  # noqa: BLE001 — any malformed record: one host must not end the scan
        log.warning("discovery: skipped host %s, its record could not be read: %r", shown(uid), exc)
        problems.add(
            "skipped",
            uid,
            palette_host.name,
            f"its record could not be read ({type(exc).__name__}); what was stored before is kept",
        )
        return None
    if notes:
        problems.add("cleaned", uid, values["name"], "; ".join(notes))
    return uid, values, fp


def _write_page(run: DiscoveryRun, creates: list[dict], updates: list[tuple[dict, dict, str]], now) -> int:
    """Insert new hosts, update changed ones (read first, for the history), record the history of both.

    Statements: for new hosts two (on PostgreSQL, their ids reserved, then one COPY), for changed ones a
    read and an update per PAGE of them (bulk_update's CASE grows with its rows: one for many costs
    more than several), and one for the history."""
    changes = []
    if creates:
        ids = _insert_hosts(creates)
        changes += [{"host_id": pk, "run_id": run.pk, "kind": HostChange.ADDED, "created": now} for pk in ids]
    if updates:
        changes += _update_hosts(run, updates, now)
    if changes:
        _insert_changes(changes)
    return len(creates)


def _update_hosts(run: DiscoveryRun, updates: list[tuple[dict, dict, str]], now) -> list[dict]:
    """Update changed hosts (their stored facts read first, in one query); their history rows, to insert."""
    old = {
        row["pk"]: row
        for row in EdgeHost.objects.filter(pk__in=[u[0]["pk"] for u in updates]).values(
            "pk", "eligible", "changed", *FACT_FIELDS
        )
    }
    objs, changes = [], []
    for known_row, values, fp in updates:
        before = {**old[known_row["pk"]], "gone": known_row["gone"]}
        diff = {f: [before[f], values[f]] for f in FACT_FIELDS + ("eligible",) if before[f] != values[f]}
        # Nothing to tell when only the fingerprint moved (the policy changed, or its format did).
        noticed = bool(diff) or before["gone"]
        objs.append(
            EdgeHost(
                pk=before["pk"],
                fingerprint=fp,
                last_seen=now,
                gone=False,
                gone_since=None,
                changed=now if noticed else before["changed"],
                **values,
            )
        )
        if noticed:
            kind = HostChange.RETURNED if before["gone"] else HostChange.UPDATED
            changes.append(
                {"host_id": before["pk"], "run_id": run.pk, "kind": kind, "changes": diff, "created": now}
            )
    EdgeHost.objects.bulk_update(objs, list(STORED_FIELDS), batch_size=PAGE)
    return changes


def _insert_hosts(rows: list[dict]) -> list[int]:
    """Insert new hosts (rows by attname); their pks, in order.

    On PostgreSQL the pks are reserved from the table's sequence first and the rows sent with one COPY
    (bulk_create's adaptation of every value costs several times more); elsewhere (SQLite) bulk_create."""
    if not _uses_copy():
        return [h.pk for h in EdgeHost.objects.bulk_create([EdgeHost(**row) for row in rows])]
    # The model's own names, written in the SQL so that its log says which table the ids are for.
    sequence = f"pg_get_serial_sequence('{EdgeHost._meta.db_table}', '{EdgeHost._meta.pk.column}')"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval({sequence}) FROM generate_series(1, %s) ORDER BY 1", [len(rows)])
        ids = [pk for (pk,) in cursor.fetchall()]
    # uuid4's, from one read of the system's random source rather than one per host.
    random = os.urandom(16 * len(rows))
    uuids = [uuid.UUID(bytes=random[i : i + 16], version=4) for i in range(0, len(random), 16)]
    _copy(EdgeHost, [{"id": pk, "uuid": u, **row} for pk, u, row in zip(ids, uuids, rows, strict=True)])
    return ids


def _insert_changes(rows: list[dict]) -> None:
    """Insert history rows (by attname): one COPY on PostgreSQL, bulk_create elsewhere."""
    if _uses_copy():
        _copy(HostChange, rows)
    else:
        HostChange.objects.bulk_create([HostChange(**row) for row in rows])


def _uses_copy() -> bool:
    """Whether new rows go in with COPY (PostgreSQL) rather than bulk_create (SQLite, the embedded mode)."""
    return connection.vendor == "postgresql"


def _copy(model, rows: list[dict]) -> None:
    """Insert `rows` (field attname → Python value) into `model`'s table with one PostgreSQL COPY.

    A field missing from a row takes its default (the pk: the database's); JSON fields are sent as their
    json.dumps text, as Django's JSONField would. Errors are Django's (IntegrityError...); Django logs the
    statement like any other (connection.queries, CaptureQueriesContext)."""
    fields = [f for f in model._meta.concrete_fields if f.attname in rows[0] or not f.primary_key]
    defaults = [f for f in fields if f.attname not in rows[0]]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    names = [f.attname for f in fields]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            row = {**{f.attname: f.get_default() for f in defaults}, **row}
            copy.write_row([json.dumps(row[n]) if n in json_fields else row[n] for n in names])


def recompute_eligibility(project: Project, *, judged_by: Policy | None = None) -> int:
    """Re-judge every host of a project by its current policy, fingerprints included (after the policy
    changed).

    Returns how many hosts became eligible or stopped being eligible; reasons are refreshed for all.
    Every scan ends with it, passing the policy it judged by (`judged_by`): nothing to do unless the
    policy changed meanwhile. The project's row is locked first, also by the policy form: a policy
    saved while a scan writes its last pages is applied either by the form after those pages, or by
    the scan's end after the form.
    """
    with transaction.atomic():
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True))
        policy = policy_for(project)
        if policy == judged_by:
            return 0
        changed = []
        flipped = 0
        for host in EdgeHost.objects.filter(project=project).iterator(chunk_size=1000):
            new = [r.to_json() for r in reasons(host, policy)]
            fp = fingerprint(host.fingerprint, policy)
            if new != host.reasons or fp != host.fingerprint:
                flipped += host.eligible != (not new)
                host.reasons, host.eligible, host.fingerprint = new, not new, fp
                changed.append(host)
        EdgeHost.objects.bulk_update(changed, ["reasons", "eligible", "fingerprint"], batch_size=1000)
    return flipped
