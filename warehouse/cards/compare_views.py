"""The comparison of two versions, base → head: one page per model, both versions picked in its query."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from warehouse.cards.comparison import version_comparison
from warehouse.numbers import whole_number
from warehouse.registry.selectors import model_get_with_access


def _picked(request, key: str) -> int | None:
    raw = request.GET.get(key, "")
    if raw == "":
        return None
    number = whole_number(raw)
    if number is None:
        raise Http404(f"?{key}= names a version by its number, like ?{key}=6.")
    return number


def _compare_url(name: str, base: int | None, head: int | None) -> str:
    query = urlencode({key: n for key, n in (("base", base), ("head", head)) if n is not None})
    return reverse("cards:compare", args=[name]) + (f"?{query}" if query else "")


@login_required
@require_GET
def version_compare(request, name: str):
    """Base on the left, head on the right. The base is the older: asked the other way round, the page
    answers with the two swapped, so every comparison reads forward in time."""
    model, _ = model_get_with_access(user=request.user, name=name)
    base, head = _picked(request, "base"), _picked(request, "head")
    if base is not None and head is not None and base > head:
        return redirect(_compare_url(name, head, base))
    comparison = version_comparison(model=model, base=base, head=head)
    return render(request, "cards/compare.html", {"model": model, "comparison": comparison})


@login_required
@require_GET
def card_compare(request, name: str, number: int):
    """The old address of a comparison, from one version's card (?with=<other>): the model's comparison page,
    with the older of the two as the base."""
    other = _picked(request, "with")
    if other is None:
        return redirect(_compare_url(name, None, number))
    return redirect(_compare_url(name, min(other, number), max(other, number)))
