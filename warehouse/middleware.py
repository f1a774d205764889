"""What holds for every request: the audit channel, and the security headers of every response."""

from django.conf import settings

from warehouse.audit.services import acting_via


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class AuditChannelMiddleware:
    """Events recorded while answering a request say where they came from (the API narrows it further)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "admin" if request.path.startswith("/admin/") else "web"
        with acting_via(channel):
            return self.get_response(request)
