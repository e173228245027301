"""The gateway's one proxy view: route, check the token, count, forward.

It is a plain Django view, not a DRF one: it never parses a body or renders
anything itself, and DRF's request wrapping and content negotiation would
cost on every request for nothing. ``config/urls.py`` sends every path that
is not the gateway's own (``/health``, ``/docs``) here, after servicekit's
request-id, access-log and body-size middleware have run.

Order matters and follows docs/spec/api.md, "Gateway behaviour": an unknown
path is a 404 before any token is looked at; a bad token is a 401 before Redis
or an upstream is asked; a revoked token or an exhausted quota is answered
from one Redis round trip.

A browser has no bearer header: a request without one that carries the
gateway's session cookies, or asks for HTML, takes :mod:`gateway.browser`'s
path (CSRF check, the cookie's token put in the header, a refresh when it has
expired) and then the same checks. On the bearer path the only cookie work
is removing the gateway's own from a ``Cookie`` header, when there is one.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from servicekit.authentication import TokenUser
from servicekit.exceptions import page_not_found

from gateway import auth, browser, proxy, routing
from gateway.metrics import RATE_LIMIT_REJECTIONS
from gateway.ratelimit import Policy, limiter
from gateway.upstreams import get_upstream


@csrf_exempt
def gateway(request: HttpRequest, path: str = "") -> HttpResponse:
    route = routing.match(request.path)
    if route is None:
        return page_not_found(request)
    # The access log's metrics count by route-table prefix, not by raw path.
    request.metrics_route = route.prefix  # type: ignore[attr-defined]

    jti: str | None = None
    login_form = False
    session: browser.Session | None = None
    if route.public:
        login_form = route.login and browser.is_login_form(request)
        # The login page itself is a page like any other; its form counts as a login.
        page = login_form and request.method == "GET"
        policy = _policy("login" if route.login and not page else "ip")
        subject = request.META.get("REMOTE_ADDR", "")
        user_id = None
    else:
        if "HTTP_AUTHORIZATION" not in request.META and browser.takes_session(request):
            try:
                session = browser.authenticate(request)
            except browser.Refused as exc:
                return exc.response
        try:
            claims = auth.verify_bearer(request)
        except auth.Unauthorized as exc:
            return exc.response()
        user_id = int(claims["user_id"])
        # The access log picks the user up from request.user, as in every service.
        request.user = TokenUser(  # type: ignore[assignment]
            id=user_id, username=str(claims.get("username", "")), claims=claims
        )
        policy, subject, jti = _policy("user"), str(user_id), str(claims["jti"])

    decision = limiter.check(policy, subject, jti=jti)
    if decision.revoked:
        return browser.revoked(request) if session else auth.revoked().response()
    if not decision.allowed:
        RATE_LIMIT_REJECTIONS.labels(policy.name).inc()
        refusal = decision.too_many_requests()
        return browser.as_login_page(request, refusal) if login_form else refusal

    if login_form:
        response = browser.login(request)
    elif session is not None and browser.is_logout(request):
        response = browser.logout(request, session)
    else:
        response = _forward(request, route.service, user_id, session)
    decision.apply_headers(response)
    return response


def _forward(
    request: HttpRequest, service: str, user_id: int | None, session: browser.Session | None
) -> HttpResponse:
    upstream = get_upstream(service)
    if "HTTP_COOKIE" in request.META:
        browser.strip_cookies(request)
    extra_headers = session.headers(request) if session is not None else None
    outcome = proxy.forward(request, upstream, user_id=user_id, extra_headers=extra_headers)
    request.access_log = {  # type: ignore[attr-defined]
        "upstream": upstream.name,
        "instance": outcome.instance.url if outcome.instance else None,
        "attempts": len(outcome.attempts),
    }
    if session is not None:
        browser.finish(request, session, outcome.response)
    return outcome.response


def _policy(name: str) -> Policy:
    limit, window = {
        "user": settings.GATEWAY_RATE_LIMIT,
        "ip": settings.GATEWAY_ANON_RATE_LIMIT,
        "login": settings.GATEWAY_LOGIN_RATE_LIMIT,
    }[name]
    return Policy(name, limit, window)
