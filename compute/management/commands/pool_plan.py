"""manage.py pool_plan -f FILE [--json] | pool_plan NAME -n NS [--json]: the readiness report and the exact
Palette request; for an existing pool what would change (a scale's PUTs, an upgrade's PATCH: README "The
ComputePool manifest").

Creates nothing. Exit 0 when every pool is ready to provision, 1 when one is blocked or the input is wrong.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from compute.management.lookup import pool_for
from compute.readiness import CREATE_PATH, Report, evaluate, report_for_pool

MARKS = {(True, True): "✓", (True, False): "✓", (False, True): "✗", (False, False): "!"}


class Command(BaseCommand):
    help = (
        "Print the readiness report of a ComputePool manifest (-f FILE, not applied) or of an existing pool "
        "(NAME -n NS): every requirement, the hosts it would use and the exact POST "
        "/v1/spectroclusters/edge-native body. Creates nothing. Exit 0 when ready, 1 when blocked."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="an existing pool's name (with -n)")
        parser.add_argument("-n", "--namespace", help="the project namespace of NAME")
        parser.add_argument(
            "-f",
            "--filename",
            help="a manifest file with ComputePool documents (and their ProfileBundles), or -",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print {ready, requirements, hosts, request} (a list for several pools)",
        )

    def handle(self, *args, name=None, namespace=None, filename=None, as_json=False, **options):
        if bool(filename) == bool(name):
            raise CommandError("Give either -f FILE or NAME -n NAMESPACE.")
        if not filename:
            return self._existing(name, namespace, as_json)
        reports = self._from_file(filename)
        if as_json:
            data = [r if isinstance(r, dict) else r.to_json() for _, r in reports]
            self.stdout.write(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        else:
            for label, report in reports:
                self._print_changes(label, report) if isinstance(report, dict) else self._print(label, report)
            self.stdout.write("Nothing was created.")
        if not all(r["ready"] if isinstance(r, dict) else r.ready for _, r in reports):
            raise SystemExit(1)

    def _from_file(self, filename: str) -> list[tuple[str, Report]]:
        from compute.manifests import plan_file
        from core.management.commands.apply import read_source

        label, data, problem = read_source(filename)
        if problem:
            raise CommandError(problem)
        errors, docs = plan_file(data, source=label)
        if errors:
            for line in errors:
                self.stderr.write(line)
            raise CommandError(
                f"{label} cannot be planned ({len(errors)} problem{'s' if len(errors) != 1 else ''})."
            )
        reports: list = []
        for doc in docs:
            if doc.state.get("existing") is not None:
                reports.append((f"{doc.namespace}/{doc.name}", _changes(doc)))
                continue
            if "inputs" not in doc.state:
                raise CommandError(
                    f"{doc.label}: the project of namespace {doc.namespace} does not exist yet; apply the "
                    "Project and its Settings first."
                )
            reports.append((f"{doc.namespace}/{doc.name}", evaluate(doc.state["inputs"])))
        return reports

    def _existing(self, name: str, namespace: str | None, as_json: bool) -> None:
        """An existing pool: its readiness report, and the changes pending for it (an upgrade its bundle
        offers)."""
        if not namespace:
            raise CommandError("NAME needs -n NAMESPACE (the project's namespace).")
        pool = pool_for(name, namespace)
        report, pending = report_for_pool(pool), _pending(pool)
        if as_json:
            self.stdout.write(json.dumps({**report.to_json(), "changes": pending}, indent=2))
        else:
            self._print(f"{namespace}/{name}", report)
            self.stdout.write("Pending changes:" if pending else "Pending changes: none.")
            for change in pending:
                self._print_change(change)
            self.stdout.write("Nothing was created.")
        if not report.ready:
            raise SystemExit(1)

    def _print_changes(self, label: str, data: dict) -> None:
        self.stdout.write(f"Compute pool {label}: exists ({data['status']}), cluster {data['clusterName']}")
        if not data["changes"]:
            self.stdout.write("Unchanged: applying this manifest changes nothing in Palette.")
        for change in data["changes"]:
            self._print_change(change)

    def _print_change(self, change: dict) -> None:
        self.stdout.write(f"Change: {change['summary']}")
        if change.get("kind") == "upgrade":
            for p in change["profiles"]:
                self.stdout.write(f"  {p['name']} ({p['type']}): {p['from'] or '(added)'} → {p['to']}")
            for line in change["variables"]:
                self.stdout.write(f"  variable {line}")
            self.stdout.write(f"  nodes repaved: {'yes' if change['repave'] else 'no'} — {change['note']}")
            for line in change["blocked"]:
                self.stdout.write(f"  ✗ blocked: {line}")
        else:
            self.stdout.write(f"  hosts added: {', '.join(change['add']) or '—'}")
            self.stdout.write(f"  hosts removed: {', '.join(change['remove']) or '—'}")
        for r in change["requests"]:
            self.stdout.write(f"Request: {r['method']} {r['path']}")
            self.stdout.write(json.dumps(r["body"], indent=2))

    def _print(self, label: str, report: Report) -> None:
        blocking = report.blocking_failures
        verdict = (
            "READY"
            if report.ready
            else f"BLOCKED ({len(blocking)} blocking problem{'s' if len(blocking) != 1 else ''})"
        )
        self.stdout.write(f"Compute pool {label}: {verdict}")
        self.stdout.write(f"Palette cluster name: {report.cluster_name}")
        self.stdout.write("Requirements:")
        for r in report.requirements:
            kind = "" if r.passed else (" [blocking]" if r.blocking else " [warning]")
            self.stdout.write(f"  {MARKS[(r.passed, r.blocking)]} {r.name}{kind}: {r.reason}")
        self.stdout.write("Hosts:")
        for pool, uids in report.hosts.items():
            self.stdout.write(f"  {pool}: {', '.join(uids) or '—'}")
        self.stdout.write(f"Request: POST {CREATE_PATH}")
        self.stdout.write(json.dumps(report.request, indent=2))


def _changes(doc) -> dict:
    """What applying the document would change in an existing pool: {pool, status, clusterName, ready,
    changes: [{kind, machinePool, summary, from, to, add, remove, requests} | {kind: "upgrade", summary,
    repave, note, profiles, variables, blocked, requests}]} (empty when unchanged)."""
    from compute.provisioning.day2 import planned_requests
    from compute.provisioning.upgrade import plan_json

    pool, change = doc.state["existing"], doc.state.get("change")
    changes = []
    if change is not None:
        changes.append(
            {
                "kind": change.kind,
                "machinePool": change.machine_pool,
                "summary": change.summary(),
                "from": len(change.before),
                "to": len(change.target),
                "add": change.add,
                "remove": change.remove,
                "requests": planned_requests(pool, change),
            }
        )
    upgrade, spec = doc.state.get("upgrade"), doc.state["spec"]
    if upgrade is not None:
        values, blocked = doc.state["upgrade_values"], doc.state["upgrade_blocked"]
        changes.append(plan_json(pool, upgrade, values, spec.masked, blocked))
    return {
        "pool": f"{doc.namespace}/{doc.name}",
        "status": pool.status,
        "clusterName": pool.cluster_name,
        "ready": not any(c.get("blocked") for c in changes),
        "changes": changes,
    }


def _pending(pool) -> list[dict]:
    """The changes an existing pool can take now: the upgrade to its bundle's versions, when it differs."""
    from compute.provisioning.upgrade import plan_json, plan_upgrade

    if pool.status != pool.READY or pool.bundle is None:
        return []
    upgrade = plan_upgrade(pool)
    return [plan_json(pool, upgrade)] if upgrade.changes else []
