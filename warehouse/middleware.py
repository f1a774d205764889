"""What holds for every request: the audit channel, and the security headers of every response."""

from warehouse.audit.services import acting_via

# No inline script anywhere: pages are server-rendered and the few scripts are files under /static/.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class AuditChannelMiddleware:
    """Events recorded while answering a request say where they came from (the API narrows it further)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "admin" if request.path.startswith("/admin/") else "web"
        with acting_via(channel):
            return self.get_response(request)
