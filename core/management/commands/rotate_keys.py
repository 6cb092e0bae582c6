"""manage.py rotate_keys [--check] [--dry-run]: re-encrypt every encrypted field with the first
FIELD_ENCRYPTION_KEY.

Rotation: generate a key, put it first in FIELD_ENCRYPTION_KEY (comma-separated, the old key(s)
after it), restart every process, run this command, check with `rotate_keys --check`, then drop the
old key and restart again. Only values the first key cannot read are rewritten, so running it twice
changes nothing the second time. All or nothing: if any value cannot be decrypted with any of the
configured keys, nothing is written and the command names the rows (never the values).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from core.fields import EncryptedTextField, fernet
from core.management.base import DryRunCommand


def encrypted_fields() -> list[tuple[type, str]]:
    """(model, field name) for every EncryptedTextField of every installed model."""
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedTextField)
    ]


class Command(DryRunCommand):
    help = (
        "Re-encrypt every encrypted value (Secrets, kubeconfigs) with the first key of FIELD_ENCRYPTION_KEY, "
        "so older keys can be removed. --check exits 1 while a value still needs an older key."
    )
    dry_run_help = "decrypt and count everything, write nothing"

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="only report; exit 1 when some value is not on the first key"
        )
        super().add_arguments(parser)

    def handle(self, *args, check: bool = False, dry_run: bool = False, **options):
        keys = settings.FIELD_ENCRYPTION_KEYS
        first = Fernet(keys[0])
        everything = (
            fernet()
        )  # MultiFernet over every configured key: rotate() decrypts with any, encrypts with the first
        stale: list[tuple[type, str, object, str]] = []
        unreadable: list[str] = []
        current = 0
        for model, name in encrypted_fields():
            # Cast to plain text: read the stored token itself, not the field's decrypted value.
            rows = (
                model._default_manager.annotate(_token=Cast(name, TextField()))
                .exclude(_token="")
                .exclude(_token__isnull=True)
            )
            for pk, token in rows.values_list("pk", "_token").iterator(chunk_size=500):
                try:
                    first.decrypt(token.encode())
                    current += 1
                    continue
                except InvalidToken:
                    pass
                try:
                    stale.append((model, name, pk, everything.rotate(token.encode()).decode()))
                except InvalidToken:
                    unreadable.append(f"{model._meta.label}.{name} pk={pk}")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} value(s) cannot be decrypted with any key in FIELD_ENCRYPTION_KEY "
                f"({', '.join(unreadable[:20])}{' …' if len(unreadable) > 20 else ''}). Nothing was changed: "
                "add the key they were written with (after the new one) and run rotate_keys again."
            )
        if check:
            if stale:
                raise CommandError(
                    f"{len(stale)} value(s) still need an older key ({current} on the first key): "
                    "run rotate_keys."
                )
            self.stdout.write(
                f"All {current} encrypted value(s) are on the first key; older keys can be removed."
            )
            return
        if not dry_run:
            with transaction.atomic():
                for model, name, pk, token in stale:
                    # A Value expression is written as is (no second encryption by the field).
                    model._default_manager.filter(pk=pk).update(
                        **{name: Value(token, output_field=TextField())}
                    )
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            f"{verb} {len(stale)} value(s) with the first key; {current} already on it "
            f"({len(keys)} key(s) configured, {len(encrypted_fields())} encrypted field(s))."
        )
        if not dry_run and len(keys) > 1:
            self.stdout.write(
                "Run rotate_keys --check, then remove the older key(s) from FIELD_ENCRYPTION_KEY and restart."
            )
