from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from warehouse.accounts.permissions import models_visible_to
from warehouse.cards.forms import RegistrationForm
from warehouse.cards.services import candidate_register_named, registration_parse
from warehouse.errors import InvalidInput
from warehouse.registry.models import ArtifactKind, RegisteredModel
from warehouse.registry.selectors import model_filter_choices


@login_required
@require_http_methods(["GET", "POST"])
def version_register(request):
    """The page twin of POST /api/v1/models/<name>/versions: the same parser, the same service."""
    form = RegistrationForm(request.POST or None, initial={"model": request.GET.get("model", "")})
    if request.method == "POST" and form.is_valid():
        try:
            registration = registration_parse(form.payload())
            version = candidate_register_named(
                actor=request.user, model_name=form.cleaned_data["model"], registration=registration
            )
        except InvalidInput as error:
            form.add_service_errors(error.errors)
            status = 400
        except Http404:
            # The service says only "no such model" (it reveals no names); the page says what to do about it.
            form.add_error(
                "model",
                f"There is no model called {form.cleaned_data['model']!r} that you may see, and you may not "
                "create models. Pick one from the list, or ask an admin for the contributor role.",
            )
            status = 404
        else:
            messages.success(request, f"Registered {version.identifier} in Draft.")
            return redirect("registry:version", version.model.name, version.number)
    else:
        status = 400 if request.method == "POST" else 200
    models = models_visible_to(request.user, RegisteredModel.objects.all()).order_by("name")
    return render(
        request,
        "cards/version_register.html",
        {
            "form": form,
            "model_names": list(models.values_list("name", flat=True)[:1000]),
            "team_names": model_filter_choices(user=request.user)["teams"],
            "artifact_kinds": ArtifactKind.choices,
        },
        status=status,
    )
