"""Pages (docs/spec/api.md, "Pagination"): ``?page=`` and ``?page_size=`` (20, at most 100).

``next``/``previous`` are built from the request, so behind the gateway
(``X-Forwarded-Host``/``-Proto``, trusted through ``USE_X_FORWARDED_HOST`` and
``SECURE_PROXY_SSL_HEADER``) they point at the gateway.
"""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
