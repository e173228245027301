from django.apps import AppConfig


class TodosConfig(AppConfig):
    name = "todos"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from servicekit import openapi  # noqa: F401 - registers the bearer-token scheme
