from servicekit.urls import optional_slash

from accounts import apis

urlpatterns = [
    *optional_slash("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    *optional_slash("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    *optional_slash("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    *optional_slash("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    *optional_slash("auth/token", apis.ServiceTokenApi.as_view(), name="auth-token"),
    *optional_slash(".well-known/jwks.json", apis.JwksApi.as_view(), name="jwks"),
    *optional_slash("users", apis.UserListApi.as_view(), name="user-list"),
    *optional_slash("users/me", apis.UserMeApi.as_view(), name="user-me"),
    *optional_slash("users/<int:user_id>", apis.UserDetailApi.as_view(), name="user-detail"),
    *optional_slash(
        "users/deletions/<uuid:saga_id>",
        apis.AccountDeletionApi.as_view(),
        name="account-deletion",
    ),
    *optional_slash(
        "internal/users/<int:user_id>", apis.InternalUserApi.as_view(), name="internal-user"
    ),
]
