from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from warehouse.audit.services import acting_via
from warehouse.errors import InvalidInput
from warehouse.tracking.services import tracking_servers_sync


class Command(BaseCommand):
    help = (
        "Configure the tracking servers listed in WAREHOUSE_TRACKING_SERVERS (name=url|CREDENTIAL_ENV;...), "
        "as the warehouse. Safe to run at every start: what is already configured is left alone."
    )

    def handle(self, **options):
        entries = settings.TRACKING_SERVERS
        try:
            with acting_via("command"):
                servers = tracking_servers_sync(entries)
        except InvalidInput as error:
            problems = "; ".join(
                f"{field}: {m}" for field, messages in error.errors.items() for m in messages
            )
            raise CommandError(f"WAREHOUSE_TRACKING_SERVERS: {problems}") from error
        for server in servers:
            self.stdout.write(f"{server.name}: {server.url} (credential in {server.credential_env})")
        if not servers:
            self.stdout.write("No tracking servers in WAREHOUSE_TRACKING_SERVERS.")
