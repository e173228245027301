from django.contrib import admin
from django.urls import path
from servicekit.urls import health_urlpatterns

urlpatterns = [
    *health_urlpatterns,
    path("admin/", admin.site.urls),
]

handler400 = "servicekit.exceptions.bad_request"
handler403 = "servicekit.exceptions.permission_denied"
handler404 = "servicekit.exceptions.page_not_found"
handler500 = "servicekit.exceptions.server_error"
