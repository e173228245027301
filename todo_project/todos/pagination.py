from rest_framework.pagination import PageNumberPagination


class TodoPagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (default 20, at most 100).

    ``next``/``previous`` are built from the request, so behind the gateway
    (``X-Forwarded-Host``/``-Proto``, trusted in settings) they point at it.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
