from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from servicekit.urls import health_urlpatterns, metrics_urlpatterns, optional_slash

from notifications import mailbox

urlpatterns = [
    *health_urlpatterns,
    *metrics_urlpatterns,
    # The development mailbox (DEV_MAILBOX_DIR, set by manage-all.sh up), inside the admin.
    path("admin/mailbox/", mailbox.inbox, name="dev-mailbox"),
    path("admin/mailbox/<str:key>/", mailbox.detail, name="dev-mailbox-detail"),
    path("admin/", admin.site.urls),
    *optional_slash("schema", SpectacularAPIView.as_view(), name="schema"),
    *optional_slash("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("notifications.urls")),
]

handler400 = "servicekit.exceptions.bad_request"
handler403 = "servicekit.exceptions.permission_denied"
handler404 = "servicekit.exceptions.page_not_found"
handler500 = "servicekit.exceptions.server_error"
