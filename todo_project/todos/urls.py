from servicekit.urls import optional_slash

from todos import apis, internal_apis

urlpatterns = [
    *optional_slash("todos", apis.TodoListCreateApi.as_view(), name="todo-list"),
    *optional_slash("todos/stats", apis.TodoStatsApi.as_view(), name="todo-stats"),
    *optional_slash("todos/<int:todo_id>", apis.TodoDetailApi.as_view(), name="todo-detail"),
    *optional_slash(
        "todos/<int:todo_id>/complete", apis.TodoCompleteApi.as_view(), name="todo-complete"
    ),
    *optional_slash(
        "internal/users/<int:user_id>/erase",
        internal_apis.UserTodosEraseApi.as_view(),
        name="internal-user-todos-erase",
    ),
    *optional_slash(
        "internal/users/<int:user_id>/restore",
        internal_apis.UserTodosRestoreApi.as_view(),
        name="internal-user-todos-restore",
    ),
    *optional_slash(
        "internal/users/<int:user_id>/purge",
        internal_apis.UserTodosPurgeApi.as_view(),
        name="internal-user-todos-purge",
    ),
]
