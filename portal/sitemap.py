"""For crawlers and browsers: `/sitemap.xml`, `/robots.txt` and the OpenSearch description."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from flask import Blueprint, Response, current_app, url_for
from sqlalchemy import func, select

from portal.metadata import absolute
from publications import catalogue as c
from publications import harvest
from publications.models import Publication

bp = Blueprint("sitemap", __name__)
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Every published publication (lastmod = its last change) and every browse page."""
    # Plain tag names under a default xmlns: ElementTree would otherwise invent ns0: prefixes.
    root = ET.Element("urlset", xmlns=SITEMAP)

    def add(path: str, lastmod: str) -> None:
        url = ET.SubElement(root, "url")
        ET.SubElement(url, "loc").text = absolute(path)
        if lastmod:
            ET.SubElement(url, "lastmod").text = lastmod

    with current_app.extensions["catalogue"].reading() as session:
        newest = _day(session.scalar(
            select(func.max(Publication.updated_at)).where(Publication.status == "published")))
        for endpoint in ("reader.home", "reader.publications", "browse.topics", "browse.types",
                         "browse.years", "browse.organisations", "browse.series_index"):
            add(url_for(endpoint), newest)
        groups = [("browse.topic", g.slug) for g in c.topic_counts(session)]
        groups += [("browse.type", g.slug) for g in c.type_counts(session)]
        groups += [("browse.organisation", g.slug) for g in c.organisation_counts(session)]
        groups += [("browse.series", g.slug) for g in c.series_counts(session)]
        for endpoint, slug in groups:
            add(url_for(endpoint, slug=slug), newest)
        for g in c.year_counts(session):
            add(url_for("browse.year", year=int(g.slug)), newest)
        for slug, updated in harvest.published_changes(session):
            add(url_for("reader.publication", slug=slug), _day(updated))
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/xml")


@bp.get("/robots.txt")
def robots() -> Response:
    """Crawl everything but the endless search result pages; the sitemap lists the rest."""
    lines = [
        "User-agent: *",
        "Disallow: /search",
        "Disallow: /publications/*/search",
        "Allow: /",
        f"Sitemap: {absolute(url_for('sitemap.sitemap'))}",
        "",
    ]
    return Response("\n".join(lines), mimetype="text/plain")


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    """The OpenSearch description, so browsers can add the portal as a search engine."""
    root = ET.Element("OpenSearchDescription", xmlns=OPENSEARCH)

    def el(tag: str, text: str = "", **attrs: str) -> ET.Element:
        node = ET.SubElement(root, tag, attrs)
        if text:
            node.text = text
        return node

    el("ShortName", "Policy publications")
    el("Description", "Search the research publications of the policy hub.")
    el("InputEncoding", "UTF-8")
    el("Language", "en")
    search = absolute(url_for("search.results"))
    el("Url", type="text/html", template=f"{search}?q={{searchTerms}}&page={{startPage?}}")
    el("Url", type="application/atom+xml",
       template=f"{absolute(url_for('feeds.search'))}?q={{searchTerms}}")
    el("Url", type="application/json",
       template=f"{absolute(url_for('api.search'))}?q={{searchTerms}}&page={{startPage?}}")
    el("Url", type="application/opensearchdescription+xml", rel="self",
       template=absolute(url_for("sitemap.opensearch")))
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/opensearchdescription+xml")
