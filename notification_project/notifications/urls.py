from servicekit.urls import optional_slash

from notifications import apis

urlpatterns = [
    *optional_slash("notifications", apis.NotificationListApi.as_view(), name="notifications"),
    *optional_slash(
        "notifications/preferences", apis.PreferenceApi.as_view(), name="notification-preferences"
    ),
    *optional_slash(
        "notifications/<int:pk>", apis.NotificationDetailApi.as_view(), name="notification"
    ),
]
