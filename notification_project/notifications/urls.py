from servicekit.saga.apis import saga_step_urls
from servicekit.urls import optional_slash

from notifications import apis, internal_apis

urlpatterns = [
    *optional_slash("notifications", apis.NotificationListApi.as_view(), name="notifications"),
    *optional_slash(
        "notifications/preferences", apis.PreferenceApi.as_view(), name="notification-preferences"
    ),
    *optional_slash(
        "notifications/<int:pk>", apis.NotificationDetailApi.as_view(), name="notification"
    ),
    *saga_step_urls(internal_apis.UserNotificationsSagaApi, name="internal-user-notifications"),
]
