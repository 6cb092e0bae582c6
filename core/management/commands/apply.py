"""manage.py apply -f FILE: validate every manifest of the file, then apply all of them or none."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from core import manifests
from core.management.base import DryRunCommand


class ManifestCommand(DryRunCommand):
    """A command over a manifest file (``-f``, ``--dry-run``): read it, ``run`` it, report the result."""

    def run(self, data: bytes, **options) -> manifests.Result:
        """The manifests operation: ``manifests.apply_text``, ``manifests.delete_text``."""
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument(
            "-f", "--filename", required=True, help="the manifest file, or - to read standard input"
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        label, data, problem = read_source(options["filename"])
        result = (
            manifests.Result(errors=[problem])
            if problem
            else self.run(data, source=label, dry_run=options["dry_run"], audit_source="cli")
        )
        report(self, result)


class Command(ManifestCommand):
    help = (
        "Apply YAML manifests (Tenant, Project, Settings, Secret). Everything is validated first and "
        "applied in one transaction: all or nothing. Exit 0 on success, 1 when anything is wrong "
        "(nothing is written)."
    )
    dry_run_help = "validate and show what would change; write nothing"

    def run(self, data: bytes, **options) -> manifests.Result:
        return manifests.apply_text(data, **options)


def read_source(path: str) -> tuple[str, bytes | None, str]:
    """Read a manifest file ("-" = standard input): (label for messages, bytes or None, problem)."""
    label = "stdin" if path == "-" else path
    # One byte more than the limit, so that apply_text can say the file is too large without reading
    # all of it.
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data = (
                stream.read(manifests.MAX_BYTES + 1)
                if stream is not None
                else sys.stdin.read(manifests.MAX_BYTES + 1).encode()
            )
        else:
            with open(path, "rb") as handle:
                data = handle.read(manifests.MAX_BYTES + 1)
    except OSError as exc:
        return label, None, f"{label}: cannot read the file: {exc.strerror or exc}."
    return label, data, ""


def report(command: BaseCommand, result: manifests.Result) -> None:
    """One line per object on stdout, or every problem on stderr and exit status 1."""
    if result.errors:
        for line in result.errors:
            command.stderr.write(line)
        command.stderr.write(
            f"Nothing was changed ({len(result.errors)} problem{'s' if len(result.errors) != 1 else ''})."
        )
        raise SystemExit(1)
    suffix = " (dry run)" if result.dry_run else ""
    for change in result.changes:
        command.stdout.write(f"{change}{suffix}")
    for warning in result.warnings:
        command.stderr.write(f"warning: {warning}")
