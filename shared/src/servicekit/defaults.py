"""Django settings values that are the same in every service.

Projects spell their settings out in their own ``settings.py`` and take these
where they have nothing to add, e.g. ``MIDDLEWARE = defaults.MIDDLEWARE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Request id first so that everything after it (including errors) logs with it;
# the size limit before anything reads the body; whitenoise before the rest so
# admin static files skip the remaining middleware.
MIDDLEWARE: list[str] = [
    "servicekit.middleware.RequestIdMiddleware",
    # W3C traceparent in, copied into the events this request causes.
    "servicekit.events.middleware.TraceContextMiddleware",
    "servicekit.middleware.AccessLogMiddleware",
    "servicekit.middleware.BodySizeLimitMiddleware",
    "servicekit.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's browsable API, with the gateway's login and CSRF token (servicekit.browsable).
        "servicekit.browsable.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "servicekit.pagination.PageNumberPagination",
    "EXCEPTION_HANDLER": "servicekit.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # servicekit's own templates (the browsable API's page) before the apps' ones.
        "DIRS": [str(Path(__file__).resolve().parent / "templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# drf-spectacular, for the services that document their API: Swagger UI's files
# from drf-spectacular-sidecar (no CDN: /docs works offline), each path once,
# bearer tokens and error responses described (servicekit.openapi), after
# drf-spectacular's own enum hook. Services add TITLE, DESCRIPTION, VERSION.
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A view may take HTML form bodies for the browsable API (servicekit.browsable);
    # the API documented for programs is JSON.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "PREPROCESSING_HOOKS": ["servicekit.openapi.document_each_path_once"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "servicekit.openapi.document_errors",
    ],
}
