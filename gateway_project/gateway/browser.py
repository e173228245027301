"""Browser sessions: the gateway holds a person's tokens, in cookies (a token handler).

A browser cannot send a bearer header, so DRF's browsable API would be out of
reach for a person. The gateway keeps the tokens for the browser instead
(docs/decisions/0009-browser-sessions-at-the-gateway.md):

- ``GET /auth/login`` asked for as HTML is a login page; its form posts to
  ``POST /auth/login``, which the gateway answers itself: it logs in at
  user-service with the same JSON call an API client makes (the same rules,
  and the same ``login`` rate limit) and keeps the access and refresh tokens
  in ``HttpOnly``, ``SameSite=Strict`` cookies (``Secure`` over HTTPS);
- a request without an ``Authorization`` header that carries the cookies is
  forwarded with ``Authorization: Bearer <access>``; when the access token
  has expired, the gateway refreshes it first (``POST /auth/refresh``) and
  sets the new pair on the response;
- every unsafe request a cookie authenticates must carry the CSRF token:
  Django's CSRF check, the ``gateway_csrftoken`` cookie against the form's
  ``csrfmiddlewaretoken`` or the ``X-CSRFToken`` header. The services' pages
  get the token in ``X-Gateway-CSRF-Token`` (servicekit.browsable);
- ``POST /auth/logout`` with the cookies revokes both tokens at user-service
  and clears the cookies;
- the gateway's cookies never reach a service (:func:`strip_cookies`).

A request with an ``Authorization`` header never comes here: the header wins
over the cookies, and bearer clients pay nothing for this module. Tokens stay
user-service's JWTs, checked by the gateway and every service as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token, rotate_token
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from servicekit import tokens
from servicekit.browsable import GATEWAY_CSRF_HEADER, LOGOUT_PATH
from servicekit.redis import get_redis

from gateway import auth, proxy
from gateway.upstreams import get_upstream

ACCESS_COOKIE = "gateway_access"
REFRESH_COOKIE = "gateway_refresh"
SESSION_COOKIES = frozenset({ACCESS_COOKIE, REFRESH_COOKIE})
# Where a person lands after logging in when the login page was not sent from a page.
DEFAULT_NEXT = "/todos"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

# Refresh tokens rotate: of two requests refreshing with the same token at once,
# user-service lets one through. The first takes a lock in Redis and leaves the new
# pair there for a short while; the others wait for it and use the same pair.
REFRESH_LOCK_PREFIX = "gateway:refresh-lock:"
REFRESHED_PREFIX = "gateway:refreshed:"
REFRESH_WAIT_SECONDS = 5.0
REFRESHED_KEPT_SECONDS = 30


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str
    expires_in: int  # the access token's lifetime, seconds


@dataclass
class Session:
    """A request authenticated by the cookies; ``renewed`` when the gateway refreshed them."""

    access: str
    refresh: str
    renewed: Tokens | None = None

    def headers(self, request: HttpRequest) -> dict[str, str]:
        """What the service's page needs from the gateway: its CSRF token."""
        return {GATEWAY_CSRF_HEADER.lower(): _csrf_token(request)}


class Refused(Exception):
    """The request ends here, with ``response`` (401, 403 or the upstream's error)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


# -- which requests ----------------------------------------------------------


def wants_html(request: HttpRequest) -> bool:
    """The client prefers HTML to JSON (a browser's navigation; DRF's page's own forms)."""
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


def takes_session(request: HttpRequest) -> bool:
    """A request without a bearer header that a browser sent: the cookies, or asking for HTML."""
    cookies = request.COOKIES
    return ACCESS_COOKIE in cookies or REFRESH_COOKIE in cookies or wants_html(request)


def is_login_form(request: HttpRequest) -> bool:
    """The login page (GET as HTML) or its form (a form POST); JSON logins are relayed."""
    if request.method == "GET":
        return wants_html(request)
    return request.method == "POST" and request.content_type in FORM_TYPES


def is_logout(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path.rstrip("/") == LOGOUT_PATH


# -- the cookie-authenticated request ----------------------------------------


def authenticate(request: HttpRequest) -> Session:
    """The session the cookies carry, its access token put in ``Authorization``; or Refused."""
    access = request.COOKIES.get(ACCESS_COOKIE, "")
    refresh = request.COOKIES.get(REFRESH_COOKIE, "")
    if not access and not refresh:
        raise Refused(login_required(request, "Log in to see this page.", "not_authenticated"))
    if request.method not in SAFE_METHODS:
        check_csrf(request)
    session = Session(access, refresh)
    if not _usable(access):
        if not refresh:
            raise Refused(_session_ended(request))
        session.renewed = refreshed(request, refresh)
        session.access, session.refresh = session.renewed.access, session.renewed.refresh
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {session.access}"
    return session


def _usable(access: str) -> bool:
    if not access:
        return False
    try:
        # The same cached check auth.verify_bearer makes next: the signature once per token.
        tokens.verify(access, expected_type=tokens.ACCESS, check_revocation=False, cache=True)
    except tokens.InvalidToken:
        return False
    return True


def finish(request: HttpRequest, session: Session, response: HttpResponse) -> None:
    """Set a refreshed pair, and a CSRF cookie the browser did not have, on the response."""
    if session.renewed is not None:
        set_session_cookies(request, response, session.renewed)
    _keep_csrf_cookie(request, response)


def revoked(request: HttpRequest) -> HttpResponse:
    """The cookie's access token is on the denylist (a logout elsewhere, a locked account)."""
    return _session_ended(request)


def strip_cookies(request: HttpRequest) -> None:
    """The gateway's cookies never reach a service; other cookies pass as they came."""
    own = SESSION_COOKIES | {settings.CSRF_COOKIE_NAME}
    kept = [
        part
        for part in request.META["HTTP_COOKIE"].split(";")
        if part.split("=", 1)[0].strip() not in own
    ]
    if any(part.strip() for part in kept):
        request.META["HTTP_COOKIE"] = ";".join(kept).strip()
    else:
        del request.META["HTTP_COOKIE"]


# -- CSRF ---------------------------------------------------------------------


def check_csrf(request: HttpRequest) -> None:
    """Django's own CSRF check (origin, then token against the cookie), or Refused (403)."""
    request.body  # noqa: B018 - read before the form is parsed: the body is forwarded as it came
    middleware = CsrfViewMiddleware(_unused_view)
    if "CSRF_COOKIE" not in request.META:
        middleware.process_request(request)
    refusal = middleware.process_view(request, _unused_view, (), {})
    if refusal is not None:
        raise Refused(refusal)


def _unused_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the CSRF check never calls the view")  # pragma: no cover


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a 403 in the suite's error shape; nothing was forwarded."""
    return JsonResponse(
        {"detail": f"CSRF check failed: {reason}", "code": "csrf_failed"}, status=403
    )


def _keep_csrf_cookie(request: HttpRequest, response: HttpResponse) -> None:
    secret = request.META.get("CSRF_COOKIE")
    if secret and request.COOKIES.get(settings.CSRF_COOKIE_NAME) != secret:
        response.set_cookie(
            settings.CSRF_COOKIE_NAME,
            secret,
            max_age=settings.CSRF_COOKIE_AGE,
            path="/",
            secure=request.is_secure(),
            httponly=False,  # the double submit: DRF's page may read it
            samesite="Strict",
        )


def _csrf_token(request: HttpRequest) -> str:
    """This browser's CSRF token; a new secret (and cookie) if it has none yet."""
    if "CSRF_COOKIE" not in request.META:
        CsrfViewMiddleware(_unused_view).process_request(request)
    return get_token(request)


# -- cookies --------------------------------------------------------------------


def set_session_cookies(request: HttpRequest, response: HttpResponse, pair: Tokens) -> None:
    secure = request.is_secure()
    for name, value, max_age in (
        (ACCESS_COOKIE, pair.access, pair.expires_in),
        (REFRESH_COOKIE, pair.refresh, _seconds_left(pair.refresh)),
    ):
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="Strict"
        )


def clear_session_cookies(response: HttpResponse) -> None:
    for name in SESSION_COOKIES:
        response.delete_cookie(name, path="/", samesite="Strict")


def _seconds_left(token: str) -> int:
    """Until the token's ``exp``: the cookie goes when the token would be refused anyway."""
    try:
        expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return 0
    return max(0, expires - int(time.time()))


# -- user-service calls -------------------------------------------------------


def _call_user_service(
    request: HttpRequest, path: str, payload: dict[str, str], *, bearer: str | None = None
) -> HttpResponse:
    """A JSON POST of the gateway's own to user-service, with the client's forwarding headers."""
    headers = proxy.upstream_headers(request)
    for name in ("cookie", "authorization", "content-type", "x-csrftoken", "idempotency-key"):
        headers.pop(name, None)
    headers["content-type"] = "application/json"
    headers["accept"] = "application/json"
    if bearer:
        headers["authorization"] = f"Bearer {bearer}"
    body = json.dumps(payload).encode()
    upstream = get_upstream("user-service")
    return proxy.exchange(upstream, "POST", path, body, headers, retryable=False).response


def _tokens(response: HttpResponse) -> Tokens:
    body = json.loads(response.content)
    return Tokens(str(body["access"]), str(body["refresh"]), int(body["expires_in"]))


def _detail(response: HttpResponse) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"The login failed ({response.status_code})."
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return "Enter a username and a password."


def refreshed(request: HttpRequest, refresh: str) -> Tokens:
    """A new pair for ``refresh``: one call to user-service however many requests ask at once."""
    key = hashlib.sha256(refresh.encode()).hexdigest()
    client: Any = None
    holds_lock = False
    try:
        client = get_redis()
        done = client.get(REFRESHED_PREFIX + key)
        if done is None:
            lock_ms = int(REFRESH_WAIT_SECONDS * 1000)
            holds_lock = bool(client.set(REFRESH_LOCK_PREFIX + key, "1", nx=True, px=lock_ms))
            if not holds_lock:
                done = _wait_for_refresh(client, key)
        if done is not None:
            return Tokens(**json.loads(done))
    except redis.RedisError:
        client = None  # not coordinated: of two refreshes at once, one may be refused
    try:
        response = _call_user_service(request, "/auth/refresh", {"refresh": refresh})
        if response.status_code == 401:
            raise Refused(_session_ended(request))
        if response.status_code != 200:
            raise Refused(response)
        pair = _tokens(response)
        if client is not None:
            _remember(client, key, pair)
        return pair
    finally:
        if holds_lock:
            _release(client, key)


def _remember(client: Any, key: str, pair: Tokens) -> None:
    # Without it the others refresh themselves, and one of them may be refused.
    with contextlib.suppress(redis.RedisError):
        client.set(REFRESHED_PREFIX + key, json.dumps(asdict(pair)), ex=REFRESHED_KEPT_SECONDS)


def _release(client: Any, key: str) -> None:
    with contextlib.suppress(redis.RedisError):  # else the lock expires on its own
        client.delete(REFRESH_LOCK_PREFIX + key)


def _wait_for_refresh(client: Any, key: str) -> bytes | None:
    """The pair another request is getting for the same token; ``None`` if it gave up."""
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        done = client.get(REFRESHED_PREFIX + key)
        if done is not None or not client.exists(REFRESH_LOCK_PREFIX + key):
            return done
    return None


# -- pages ----------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this gateway, never another site."""
    if (
        value
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(value, allowed_hosts=None)
        and not urlsplit(value).netloc
    ):
        return value
    return DEFAULT_NEXT


def login_page(
    request: HttpRequest, *, status: int = 200, message: str = "", next_url: str | None = None
) -> HttpResponse:
    """The login form; ``message`` says why it is shown (a failed login, an ended session)."""
    if request.GET.get("logged_out") and not message:
        message = "You have logged out."
    context = {
        "message": message,
        "next": safe_next(next_url if next_url is not None else request.GET.get("next")),
        "csrf_token": _csrf_token(request),
    }
    response = render(request, "gateway/login.html", context, status=status)
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="{auth.REALM}"'
    _keep_csrf_cookie(request, response)
    return response


def login_required(
    request: HttpRequest, message: str, code: str, *, clear: bool = False
) -> HttpResponse:
    """401: the login page for a browser (coming back here afterwards), JSON for a program."""
    if wants_html(request):
        here = request.get_full_path() if request.method == "GET" else None
        response = login_page(request, status=401, message=message, next_url=here)
    else:
        response = auth.Unauthorized(message, code).response()
    if clear:
        clear_session_cookies(response)
    return response


def _session_ended(request: HttpRequest) -> HttpResponse:
    return login_required(
        request, "Your session has ended; log in again.", "token_not_valid", clear=True
    )


def as_login_page(request: HttpRequest, refusal: HttpResponse) -> HttpResponse:
    """The gateway's JSON refusal of a login form (429) as the login page, headers kept."""
    page = login_page(request, status=refusal.status_code, message=_detail(refusal))
    for name, value in refusal.items():
        if name.lower() not in ("content-type", "content-length"):
            page[name] = value
    return page


def login(request: HttpRequest) -> HttpResponse:
    """``/auth/login`` from a browser: the page, or its form logged in at user-service."""
    if request.method == "GET":
        return login_page(request)
    try:
        check_csrf(request)
    except Refused as exc:
        return exc.response
    form = request.POST
    next_url = safe_next(form.get("next"))
    credentials = {"username": form.get("username", ""), "password": form.get("password", "")}
    answer = _call_user_service(request, settings.GATEWAY_LOGIN_PATH, credentials)
    if answer.status_code != 200:
        page = login_page(
            request, status=answer.status_code, message=_detail(answer), next_url=next_url
        )
        if "Retry-After" in answer:
            page["Retry-After"] = answer["Retry-After"]
        return page
    response = HttpResponse(status=303)
    response["Location"] = next_url
    response["Cache-Control"] = "no-store"
    set_session_cookies(request, response, _tokens(answer))
    rotate_token(request)  # a new CSRF secret with every login
    _keep_csrf_cookie(request, response)
    return response


def logout(request: HttpRequest, session: Session) -> HttpResponse:
    """Revoke both tokens at user-service, clear the cookies, show the login page."""
    answer = _call_user_service(
        request, LOGOUT_PATH, {"refresh": session.refresh}, bearer=session.access
    )
    if answer.status_code >= 500:
        return answer  # nothing was revoked (e.g. 503 revocation_unavailable): try again
    response = HttpResponse(status=303)
    response["Location"] = f"{settings.GATEWAY_LOGIN_PATH}?{urlencode({'logged_out': 1})}"
    clear_session_cookies(response)
    return response
