from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from warehouse.audit.services import acting_via
from warehouse.errors import InvalidInput
from warehouse.incidents.services import receiver_create


class Command(BaseCommand):
    help = (
        "Make an alert receiver and print its token once. Put the token in the alerting system's "
        "configuration (Alertmanager webhook_configs, Grafana webhook contact point); it is not shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Letters, digits, hyphens: the last part of the hook URL.")
        parser.add_argument("--description", default="", help="What posts here, e.g. 'prod Alertmanager'.")
        parser.add_argument(
            "--model-label",
            action="append",
            dest="model_labels",
            help="An alert label naming the model, tried in order (repeat it). Default: model_name, model.",
        )
        parser.add_argument(
            "--version-label",
            action="append",
            dest="version_labels",
            help="An alert label naming the version (repeat it). Default: model_version.",
        )
        parser.add_argument("--by", help="The superuser who makes it (default: the first superuser).")

    def handle(self, name, description, model_labels, version_labels, by, **options):
        users = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk")
        actor = users.filter(username=by).first() if by else users.first()
        if actor is None:
            raise CommandError(
                f"No active superuser named {by!r}." if by else "No superuser: make one with createsuperuser."
            )
        try:
            with acting_via("command"):
                receiver, token = receiver_create(
                    actor=actor,
                    name=name,
                    description=description,
                    model_labels=model_labels,
                    version_labels=version_labels,
                )
        except InvalidInput as error:
            raise CommandError(
                "; ".join(f"{field}: {m}" for field, messages in error.errors.items() for m in messages)
            ) from error
        self.stderr.write(
            f"Receiver {receiver.name}: POST to {reverse('hooks:alertmanager', args=[receiver.name])} "
            f"or {reverse('hooks:grafana', args=[receiver.name])} with 'Authorization: Bearer <token>'. "
            "The token, shown once:"
        )
        self.stdout.write(token)
