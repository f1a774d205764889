from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from warehouse.accounts.forms import ApiTokenForm
from warehouse.accounts.models import ApiToken
from warehouse.accounts.services import api_token_create, api_token_revoke
from warehouse.errors import InvalidInput


@login_required
def api_tokens(request):
    issued = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                actor=request.user, user=request.user, name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except InvalidInput as error:
            for field, problems in error.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            # Shown in this response only: the secret is not stored, so it cannot be shown again.
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(request, "accounts/api_tokens.html", {"form": form, "issued": issued, "tokens": tokens})


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token {token} revoked. Anything still using it now gets 401.")
    return redirect("accounts:api-tokens")
