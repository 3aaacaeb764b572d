"""The staff workspace under /staff/: sign-in, upload, editing, review lists, audit log.

One parent blueprint holds the guard every staff page passes (signed in, CSRF token on every
POST); each concern is a small child blueprint in its own module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from portal.staff import access, accounts, auth, dashboard, edit, upload
from publications.settings import Settings
from publications.uploads import UploadWorker

SESSION_LIFETIME = timedelta(hours=8)

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(access.guard)
for child in (auth.bp, dashboard.bp, upload.bp, edit.bp, accounts.bp):
    bp.register_blueprint(child)

csrf = CSRFProtect()


def config_for(settings: Settings) -> dict[str, Any]:
    """Session and CSRF configuration; the app's own overrides are applied after these."""
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.base_url.lower().startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": SESSION_LIFETIME,
        # Only the staff guard checks tokens: the public API and OAI-PMH take POSTs from
        # other machines and have no forms.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": int(SESSION_LIFETIME.total_seconds()),
    }


def init_app(app: Flask) -> None:
    app.extensions["staff_uploads"] = UploadWorker(
        app.extensions["catalogue"],
        on_error=lambda exc: app.logger.error("reading uploads failed: %r", exc))
    csrf.init_app(app)
    app.extensions["staff_csrf"] = csrf
    app.register_blueprint(bp)
    app.add_template_global(access.current_account, "staff_account")

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template(
            "error.html", code=400, title="Please try again",
            message="The form had expired or was sent from somewhere else, so nothing was "
                    "changed. Go back, reload the page and send it again."), 400
