from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from warehouse.accounts.permissions import models_visible_to
from warehouse.cards.forms import RegistrationForm
from warehouse.cards.services import candidate_register_named, registration_parse
from warehouse.errors import InvalidInput
from warehouse.registry.models import RegisteredModel


@login_required
def version_register(request):
    """The page twin of POST /api/v1/models/<name>/versions."""
    form = RegistrationForm(request.POST or None, initial={"model": request.GET.get("model", "")})
    if request.method == "POST" and form.is_valid():
        try:
            registration = registration_parse(form.payload())
            version = candidate_register_named(
                actor=request.user, model_name=form.cleaned_data["model"], registration=registration
            )
        except InvalidInput as error:
            form.add_service_errors(error.errors)
        else:
            return redirect("registry:version", version.model.name, version.number)
    status = 400 if request.method == "POST" else 200
    models = models_visible_to(request.user, RegisteredModel.objects.all()).values_list("name", flat=True)
    return render(request, "cards/version_register.html", {"form": form, "model_names": list(models)}, status=status)
