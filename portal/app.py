"""The Flask application factory: wires the catalogue (and index) into the web face."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask, render_template

from index import SYNONYMS_FILE, SearchIndex
from portal.pagecache import PageCache
from publications.catalogue import Catalogue
from publications.indexer import Indexer
from publications.usage import UsageCounter
from publications.settings import Settings


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the portal. Tests pass their own Settings; nothing reads the environment here."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    from portal import staff

    app.config.update(SECRET_KEY=settings.secret_key, PORTAL_SETTINGS=settings)
    app.config.update(staff.config_for(settings))  # session cookies, CSRF
    app.config.update(overrides)
    app.extensions["catalogue"] = Catalogue(settings)
    app.extensions["index"] = SearchIndex(settings.index_dir,
                                          synonyms_file=settings.home / SYNONYMS_FILE,
                                          mapped_budget_mb=settings.index_resident_mb)
    app.extensions["usage"] = UsageCounter()
    app.extensions["page_cache"] = PageCache()

    from portal import (
        api,
        browse,
        citation,
        exports,
        feeds,
        metadata,
        oai,
        search_views,
        security,
        sitemap,
        views,
    )

    app.register_blueprint(views.bp)
    app.register_blueprint(browse.bp)
    app.register_blueprint(search_views.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(sitemap.bp)
    app.register_blueprint(oai.bp)
    app.register_blueprint(api.bp)
    metadata.init_app(app)
    app.add_template_global(citation.styles, "citation_styles")
    app.add_template_global(feeds.feed_for)
    staff.init_app(app)
    security.init_app(app)  # after every blueprint: it limits views by endpoint

    @app.errorhandler(400)
    def bad_request(_error: Exception):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=400, title="Bad request",
                               message="Something in the address is not valid."), 400

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

    @app.template_test("web_url")
    def web_url(value: str) -> bool:
        """Only http(s) addresses become links: a stored `javascript:` URL stays text."""
        return value.lower().startswith(("https://", "http://"))

    return app


def catalogue_of(app: Flask) -> Catalogue:
    return app.extensions["catalogue"]


def start_indexer(app: Flask, interval: float = 1.0, apply_journal: bool = True) -> threading.Thread:
    """Run the journal-draining indexer in a background thread of a serving process.

    Published uploads become searchable within `interval` seconds plus the indexing time.
    With `apply_journal=False` (every web worker but one) the thread only writes the
    readers' counts.
    """
    indexer = Indexer(app.extensions["catalogue"], app.extensions["index"])
    stop = threading.Event()
    app.extensions["indexer_stop"] = stop

    usage = app.extensions["usage"]
    prune_every = _prune_rounds(app.config["PORTAL_SETTINGS"], interval)

    def loop() -> None:
        rounds = 0
        while not stop.wait(interval):
            rounds += 1
            try:
                if apply_journal:
                    if prune_every and (rounds - 1) % prune_every == 0:
                        prune_journal(app)
                    indexer.apply_pending()
                if rounds % 10 == 0:  # reader counts reach the catalogue every ~10 s
                    usage.flush(app.extensions["catalogue"])
            except Exception:  # logged; the next round tries again
                app.logger.exception("indexer round failed")

    thread = threading.Thread(target=loop, name="portal-indexer", daemon=True)
    thread.start()
    return thread


def _prune_rounds(settings: Settings, interval: float) -> int:
    """Indexer rounds between journal prunes: a tenth of the retention, at most hourly (0:
    never prune). Every node prunes; a second node deleting the same rows changes nothing."""
    if settings.journal_retention_days <= 0:
        return 0
    seconds = min(3600.0, settings.journal_retention_days * 86400.0 / 10)
    return max(1, round(seconds / interval))


def prune_journal(app: Flask) -> int:
    """Drop journal rows older than the retention (see `Catalogue.prune_journal`)."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    if settings.journal_retention_days <= 0:
        return 0
    days = timedelta(days=settings.journal_retention_days)
    return app.extensions["catalogue"].prune_journal(days)
