from django.utils.functional import SimpleLazyObject

from warehouse.accounts.reach import reach_of


def reach(request):
    """`reach`: which entries of the main navigation the signed-in person may use. Lazy, and read from the
    person already loaded for the request: no query (warehouse/accounts/reach.py)."""
    return {"reach": SimpleLazyObject(lambda: reach_of(request.user))}
