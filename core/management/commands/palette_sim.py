"""``manage.py palette_sim``: run the Palette API simulator (a thin wrapper of ``palette.sim.cli``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from palette.sim import cli


class Command(BaseCommand):
    help = "Run the Palette API simulator; prints its URL, API key and project UIDs."

    def add_arguments(self, parser):
        cli.add_arguments(parser)

    def handle(self, *args, **options):
        code = cli.main(cli.argv_from_options(options), out=self.stdout)
        if code:
            raise CommandError("the simulator could not start (see above)", returncode=code)
