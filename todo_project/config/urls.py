from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from servicekit.urls import health_urlpatterns, metrics_urlpatterns, optional_slash

urlpatterns = [
    *health_urlpatterns,
    *metrics_urlpatterns,
    path("", include("todos.urls")),
    *optional_slash("schema", SpectacularAPIView.as_view(), name="schema"),
    *optional_slash("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
]

handler400 = "servicekit.exceptions.bad_request"
handler403 = "servicekit.exceptions.permission_denied"
handler404 = "servicekit.exceptions.page_not_found"
handler500 = "servicekit.exceptions.server_error"
