from servicekit.saga.apis import saga_step_urls
from servicekit.urls import optional_slash

from todos import apis, internal_apis

urlpatterns = [
    *optional_slash("todos", apis.TodoListCreateApi.as_view(), name="todo-list"),
    *optional_slash("todos/stats", apis.TodoStatsApi.as_view(), name="todo-stats"),
    *optional_slash("todos/<int:todo_id>", apis.TodoDetailApi.as_view(), name="todo-detail"),
    *optional_slash(
        "todos/<int:todo_id>/complete", apis.TodoCompleteApi.as_view(), name="todo-complete"
    ),
    *saga_step_urls(internal_apis.UserTodosSagaApi, name="internal-user-todos"),
]
