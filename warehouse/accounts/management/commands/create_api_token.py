from django.core.management.base import BaseCommand, CommandError

from warehouse.accounts.services import api_token_create, user_by_username
from warehouse.audit.services import acting_via
from warehouse.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it once. Store it in your CI secrets; it is not shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="command line", help="What will use the token, e.g. 'payments CI'."
        )

    def handle(self, username, name, **options):
        try:
            user = user_by_username(username)
            with acting_via("command"):
                issued = api_token_create(actor=user, user=user, name=name)
        except InvalidInput as error:
            raise CommandError(
                "; ".join(m for messages in error.errors.values() for m in messages)
            ) from error
        self.stdout.write(issued.secret)
