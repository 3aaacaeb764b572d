"""The portal's defences that cut across every page: security headers on every response,
hostile characters refused in addresses, safe download file names, rate limits on sign-in
and search, and trust in a reverse proxy only when configured.

`docs/security.md` says what each one protects against and what is not covered.
"""

from __future__ import annotations

import re
import time
import unicodedata
from urllib.parse import quote

import limits
from flask import Flask, Response, abort, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from publications.settings import Settings

# No inline script or style anywhere: templates use classes from portal.css, and the
# server-drawn chart uses SVG presentation attributes, which CSP does not treat as style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # frame-ancestors does the same for current browsers; this is for older ones.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000"
# Endpoints that run a search, and so share one search limit per client.
SEARCH_ENDPOINTS = ("search.results", "reader.search_within", "api.search", "feeds.search",
                    "exports.search")
LOGIN_ENDPOINT = "staff.auth.login"
OFF = ("", "off", "none", "0")
# C0 controls and DEL: never part of a real address; NUL in particular is refused by
# PostgreSQL and by the operating system's path functions.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
URL_FOR_OPTIONS = frozenset({"_anchor", "_external", "_method", "_scheme"})
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
FORM_BYTES = 2 * 1024 * 1024  # the largest request body outside the staff upload forms


def add_security_headers(response: Response) -> Response:
    """Set each header unless the view already chose its own value."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    if request.is_secure or settings.base_url.lower().startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.blueprint and request.blueprint.split(".")[0] == "staff" \
            and "Cache-Control" not in response.headers:
        # Staff pages show drafts and accounts: never kept by a shared cache or the back button.
        response.headers["Cache-Control"] = "no-store"
    return response


def refuse_hostile_addresses() -> None:
    """A control character (NUL, CR, LF...) in the path or in a query parameter is refused
    with 400 before any view sees it: no slug, id, filter, redirect target or page number
    has one. The free text of a search (`q`) is the exception: any string is a valid query,
    and it only ever reaches the search engine, never a path, a header or SQL.

    Also refused: parameters named like url_for's own options (`_external`, `_scheme`...).
    Listing and search pages rebuild their links from the query string with url_for, which
    would otherwise take them as options (absolute links, a 500 on a bad `_method`)."""
    if _CONTROL.search(request.path):
        abort(400)
    for key, value in request.args.items(multi=True):
        if _CONTROL.search(key) or (key != "q" and _CONTROL.search(value)):
            abort(400)
        if key in URL_FOR_OPTIONS:
            abort(400)


def content_disposition(name: str, disposition: str = "inline") -> str:
    """A Content-Disposition value for a download called `name`.

    The plain `filename` keeps only ASCII letters, digits, dot, dash and underscore, so no
    quote, semicolon, CR or LF can end the header or add another; `filename*` (RFC 5987)
    carries the full name, percent-encoded, for browsers that read it.
    """
    cleaned = _CONTROL.sub("", name).strip() or "download"
    ascii_name = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode()
    ascii_name = _UNSAFE_NAME.sub("-", ascii_name).strip("-.") or "download"
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != cleaned:
        value += f"; filename*=UTF-8''{quote(cleaned, safe='')}"
    return value


def _rate(setting: str, value: str) -> str | None:
    """The limit string, None when switched off; a bad value stops the start-up."""
    if value.strip().lower() in OFF:
        return None
    try:
        limits.parse_many(value)
    except ValueError:
        raise ValueError(f"PORTAL_{setting.upper()} is {value!r}: write a rate such as "
                         f"'10/minute' or '60/10 seconds', or 'off'") from None
    return value


def _install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Per-client limits on sign-in attempts (POST only) and on searches (shared by every
    search endpoint). Counting lives in `settings.rate_limit_storage`."""
    login = _rate("login_rate_limit", settings.login_rate_limit)
    search = _rate("search_rate_limit", settings.search_rate_limit)
    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.rate_limit_storage,
                      strategy="moving-window", headers_enabled=False,
                      key_prefix="portal")
    # The limiter checks a decorated view when it runs, so each view is swapped for its
    # limited wrapper (the blueprints stay free of rate-limit code).
    views = app.view_functions
    if login:
        views[LOGIN_ENDPOINT] = limiter.limit(login, methods=["POST"])(views[LOGIN_ENDPOINT])
    if search:
        shared = limiter.shared_limit(search, scope="search")
        for endpoint in SEARCH_ENDPOINTS:
            views[endpoint] = shared(views[endpoint])
    app.extensions["rate_limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def too_many(error: RateLimitExceeded):  # type: ignore[no-untyped-def]
        current = limiter.current_limit
        wait = max(1, int((current.reset_at if current else time.time() + 60) - time.time()))
        what = "sign-in attempts" if request.endpoint == LOGIN_ENDPOINT else "searches"
        if request.blueprint == "api":
            response = current_app.json.response(
                {"error": {"status": 429, "message": f"too many {what}; retry in {wait} s"}})
            response.status_code = 429
        else:
            body = render_template(
                "error.html", code=429, title="Too many requests",
                message=f"There have been too many {what} from your address in a short "
                        f"time. Please wait {wait} seconds and try again.")
            response = Response(body, 429, mimetype="text/html")
        response.headers["Retry-After"] = str(wait)
        return response

    return limiter


def init_app(app: Flask) -> None:
    """Wire the defences in; call after every blueprint is registered."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        behind_proxy = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0)
        app.wsgi_app = behind_proxy  # type: ignore[method-assign]
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        # No reader route takes a body (OAI-PMH's POST is a few fields); the staff upload
        # forms raise the cap for signed-in staff only (portal.staff.access.body_limit).
        app.config["MAX_CONTENT_LENGTH"] = FORM_BYTES
    app.before_request(refuse_hostile_addresses)
    app.after_request(add_security_headers)
    _install_rate_limits(app, settings)
