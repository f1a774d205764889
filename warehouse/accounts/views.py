from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from warehouse import clock
from warehouse.accounts import services
from warehouse.accounts.forms import ApiTokenForm
from warehouse.accounts.models import ApiToken
from warehouse.errors import InvalidInput


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    issued = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_token_create(
                actor=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except InvalidInput as error:
            for field, problems in error.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            # Shown in this response only: the secret is not stored, so it cannot be shown again.
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk")
    response = render(
        request,
        "accounts/api_tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": tokens,
            "now": clock.now(),
            "api_example_url": request.build_absolute_uri(reverse("api:models")),
        },
        status=400 if form.errors else 200,
    )
    # A page that may carry a secret must not be kept by the browser's or a proxy's cache.
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    # The service, not this view: they share a name, so it is reached through its module.
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(
        request, f"Token “{token.name}” ({token.prefix}…) revoked. Anything still using it now gets 401."
    )
    return redirect("accounts:api-tokens")


def signin_locked_out(request, original_response=None, credentials=None):
    """The answer to a sign-in while its account or address is locked out (django-axes calls it): 429,
    saying for how long, with Retry-After for whatever reads headers."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(
        request,
        "accounts/locked_out.html",
        {"username": (credentials or {}).get("username", ""), "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    add_never_cache_headers(response)
    return response
