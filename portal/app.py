"""The Flask application factory: wires the catalogue (and index) into the web face."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template

from publications.catalogue import Catalogue
from publications.settings import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the portal. Tests pass their own Settings; nothing reads the environment here."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, PORTAL_SETTINGS=settings, **overrides)
    app.extensions["catalogue"] = Catalogue(settings)

    from portal import views

    app.register_blueprint(views.bp)

    @app.errorhandler(404)
    def not_found(_error: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=404, title="Not found",
                               message="There is no page at this address."), 404

    @app.errorhandler(500)
    def server_error(_error: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=500, title="Something went wrong",
                               message="The portal hit a problem. Please try again."), 500

    @app.template_filter("filesize")
    def filesize(n: int) -> str:
        for unit in ("bytes", "KB", "MB", "GB"):
            if n < 1024 or unit == "GB":
                return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
            n /= 1024
        return str(n)

    return app


def catalogue_of(app: Flask) -> Catalogue:
    return app.extensions["catalogue"]
