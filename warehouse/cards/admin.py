from django.contrib import admin

from warehouse.cards.models import CardRevision


@admin.register(CardRevision)
class CardRevisionAdmin(admin.ModelAdmin):
    """Read-only: a card changes by a new revision, made on the card's page or through the API."""

    list_display = ["card", "number", "author", "created_at", "summary"]
    list_select_related = ["card", "author"]
    readonly_fields = ["card", "number", "sections", "summary", "author", "created_at"]
    exclude = ["sections_html"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
