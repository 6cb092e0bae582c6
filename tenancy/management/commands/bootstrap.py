"""manage.py bootstrap: the default tenant and project, and the first admin user. Idempotent."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenancy.models import Project, Tenant


class Command(BaseCommand):
    help = (
        "Create the default tenant and project (SYSTEM_DEFAULT_RESOURCES) and the admin user. "
        "Safe to run again."
    )

    def handle(self, *args, **options):
        self._check_admin_password()  # before anything is written: a refused password changes nothing
        with transaction.atomic():
            if settings.SYSTEM_DEFAULT_RESOURCES:
                tenant, created = Tenant.objects.get_or_create(
                    name="default", defaults={"display_name": "Default tenant"}
                )
                if created:
                    self.stdout.write("Created tenant default (namespace tenant-default).")
                if not Project.objects.filter(tenant=tenant, name="default").exists():
                    if Project.objects.filter(namespace="default-project").exists():
                        self.stderr.write(
                            "Namespace default-project is taken by another project; "
                            "default project not created."
                        )
                    else:
                        # "default" itself is a reserved Kubernetes namespace, hence default-project.
                        Project.objects.create(
                            tenant=tenant,
                            name="default",
                            display_name="Default project",
                            namespace="default-project",
                        )
                        self.stdout.write("Created project default/default (namespace default-project).")
            self._admin_user()

    def _check_admin_password(self) -> None:
        """Refuse an ADMIN_PASSWORD that Django's password validators (AUTH_PASSWORD_VALIDATORS) refuse; exit
        code 1."""
        if not settings.ADMIN_PASSWORD:
            return  # a generated one is used
        User = get_user_model()
        username = settings.ADMIN_USERNAME
        user = User.objects.filter(username=username).first() or User(username=username)
        try:
            validate_password(settings.ADMIN_PASSWORD, user)
        except ValidationError as exc:
            # The messages describe the problem, never the password itself.
            raise CommandError(
                f"ADMIN_PASSWORD is refused: {' '.join(exc.messages)} Set a stronger one (or unset it to "
                "have a password generated and printed once) and run bootstrap again."
            ) from None

    def _admin_user(self) -> None:
        User = get_user_model()
        username = settings.ADMIN_USERNAME
        user = User.objects.filter(username=username).first()
        if user is not None:
            if settings.ADMIN_PASSWORD and not user.check_password(settings.ADMIN_PASSWORD):
                user.set_password(settings.ADMIN_PASSWORD)
                user.save(update_fields=["password"])
                self.stdout.write(f"Admin user {username}: password updated from ADMIN_PASSWORD.")
            else:
                self.stdout.write(f"Admin user {username} exists.")
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if settings.ADMIN_PASSWORD:
            self.stdout.write(f"Created admin user {username} with the password from ADMIN_PASSWORD.")
        else:
            # Printed once; it is not stored anywhere readable.
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin user {username} with password: {password}  "
                    "(shown once; change it after login)"
                )
            )
