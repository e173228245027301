"""Pages (docs/spec/api.md, "Pagination"): ``?page=`` and ``?page_size=`` (20, at most 100).

``next``/``previous`` are built from the request, so behind the gateway
(``X-Forwarded-Host``/``-Proto``, trusted through ``USE_X_FORWARDED_HOST`` and
``SECURE_PROXY_SSL_HEADER``) they point at the gateway.

A page costs one query when it shows where the list ends (most lists are
short): the page is read with one row more than it holds, and when that row is
not there the count is the rows before the page plus the rows on it. Only a
page with more rows after it needs ``COUNT(*)`` for the ``count`` field.
"""

from __future__ import annotations

from typing import Any

from django.core import paginator
from rest_framework import pagination

# OFFSET is a 64-bit integer in PostgreSQL and SQLite; a page number past it must not
# reach the database.
LARGEST_OFFSET = 2**63 - 1


class Paginator(paginator.Paginator):
    """Django's paginator, counting with ``COUNT(*)`` only when the page cannot tell."""

    def page(self, number: Any) -> paginator.Page:
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            return super().page(number)  # Django's own error for a page that is not a number
        bottom = (wanted - 1) * self.per_page
        if wanted < 1 or self.orphans or bottom + self.per_page >= LARGEST_OFFSET:
            return super().page(number)  # Django counts first: such a page is a 404
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if len(rows) <= self.per_page and (rows or wanted == 1):
            # This page holds the end of the list: the count needs no query.
            self.__dict__["count"] = bottom + len(rows)
        return paginator.Page(rows[: self.per_page], self.validate_number(wanted), self)


class PageNumberPagination(pagination.PageNumberPagination):
    django_paginator_class = Paginator
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
