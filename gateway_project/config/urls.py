"""The gateway's own pages first; every other path goes to the proxy view."""

from django.urls import re_path
from servicekit.urls import health_urlpatterns, metrics_urlpatterns, optional_slash

from gateway import docs
from gateway.views import gateway

urlpatterns = [
    *health_urlpatterns,
    *metrics_urlpatterns,
    *optional_slash("docs", docs.swagger_ui, name="docs"),
    re_path(r"^schemas/(?P<service>[a-z-]+)/?$", docs.schema, name="schema"),
    re_path(r"^(?P<path>.*)$", gateway, name="gateway"),
]

handler400 = "servicekit.exceptions.bad_request"
handler403 = "servicekit.exceptions.permission_denied"
handler404 = "servicekit.exceptions.page_not_found"
handler500 = "servicekit.exceptions.server_error"
