"""What machines read about a publication page: Google Scholar, Dublin Core and Open Graph
meta tags, schema.org JSON-LD, and Signposting `Link` headers."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, current_app, request, url_for

from publications.catalogue import series_slug
from publications.exports import Reference, reference_of
from publications.models import Publication

SCHEMA_TYPES = {"report": "Report", "working paper": "Report", "briefing": "Report",
                "article": "ScholarlyArticle", "book": "Book", "chapter": "Chapter",
                "newsletter": "CreativeWork", "presentation": "PresentationDigitalDocument",
                "video": "VideoObject"}
REPORT_TYPES = ("report", "working paper", "briefing")
# The formats a publication's record can be fetched in, for `describedby` links and heads.
EXPORTS = (("cite.bib", "application/x-bibtex", "BibTeX"),
           ("cite.ris", "application/x-research-info-systems", "RIS"),
           ("cite.json", "application/vnd.citationstyles.csl+json", "CSL-JSON"))
_CC = re.compile(r"^CC[- ]?(BY(?:[- ](?:NC|SA|ND))*)[- ]?(\d\.\d)$", re.IGNORECASE)
_OGL = re.compile(r"^OGL(?:-UK)?-(\d)\.0$", re.IGNORECASE)


def absolute(path: str) -> str:
    """An absolute URL under the configured public base URL (`base_url`)."""
    base = current_app.config["PORTAL_SETTINGS"].base_url.rstrip("/")
    return base + path


def page_url(pub: Publication) -> str:
    return absolute(url_for("reader.publication", slug=pub.slug))


def pdf_url(pub: Publication) -> str:
    """The PDF's absolute URL, or "" when the publication has no file."""
    if pub.current_version is None:
        return ""
    return absolute(url_for("reader.download", slug=pub.slug))


def reference(pub: Publication) -> Reference:
    """The export Reference of a publication, with its public addresses."""
    return reference_of(pub, page_url(pub), pdf_url(pub))


def licence_url(licence: str) -> str:
    """'CC-BY-4.0' -> the Creative Commons deed; a URL stays itself; unknown text -> ""."""
    text = licence.strip()
    if text.lower().startswith(("https://", "http://")):
        return text
    if m := _CC.match(text):
        kind = m.group(1).lower().replace(" ", "-")
        return f"https://creativecommons.org/licenses/{kind}/{m.group(2)}/"
    if text.upper() in ("CC0", "CC0-1.0"):
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if m := _OGL.match(text):
        return (f"https://www.nationalarchives.gov.uk/doc/open-government-licence/"
                f"version/{m.group(1)}/")
    return ""


def _date(pub: Publication) -> str:
    """'2021/03/01'-style date as Google Scholar asks for (year alone when that is all)."""
    return pub.date_iso.replace("-", "/")


def meta_tags(pub: Publication) -> list[tuple[str, str, str]]:
    """(attribute, name, content) for every <meta> tag: citation_*, DC.* and og:*."""
    ref = reference(pub)
    publishers = [o.organisation.name for o in pub.organisations if o.role == "publisher"]
    tags: list[tuple[str, str]] = [("citation_title", pub.title)]
    tags += [("citation_author", a.person.name) for a in pub.authors]
    if pub.date_iso:
        tags.append(("citation_publication_date", _date(pub)))
    if ref.pdf_url:
        tags.append(("citation_pdf_url", ref.pdf_url))
    tags.append(("citation_abstract_html_url", ref.page_url))
    if pub.type in REPORT_TYPES:
        tags += [("citation_technical_report_institution", p) for p in publishers]
        if pub.series_number:
            tags.append(("citation_technical_report_number", pub.series_number))
    elif pub.type == "book":
        tags += [("citation_publisher", p) for p in publishers]
    if pub.series:
        tags.append(("citation_series_title", pub.series))
    for name, value in (("citation_doi", pub.doi), ("citation_isbn", pub.isbn),
                        ("citation_issn", pub.issn), ("citation_language", pub.language)):
        if value:
            tags.append((name, value))
    if ref.keywords:
        tags.append(("citation_keywords", "; ".join(ref.keywords)))
    out = [("name", n, v) for n, v in tags]
    dc: list[tuple[str, str]] = [("DC.title", pub.title)]
    dc += [("DC.creator", a.person.name) for a in pub.authors]
    dc += [("DC.publisher", p) for p in publishers]
    if pub.date_iso:
        dc.append(("DC.date", pub.date_iso))
    dc.append(("DC.type", "Text"))
    dc.append(("DC.identifier", f"https://doi.org/{pub.doi}" if pub.doi else ref.page_url))
    if pub.abstract:
        dc.append(("DC.description", pub.abstract))
    dc += [("DC.subject", k) for k in ref.keywords]
    if pub.language:
        dc.append(("DC.language", pub.language))
    if pub.licence:
        dc.append(("DC.rights", pub.licence))
    out += [("name", n, v) for n, v in dc]
    og = [("og:type", "article"), ("og:title", pub.title), ("og:url", ref.page_url),
          ("og:site_name", "Policy publications portal")]
    if pub.abstract:
        og.append(("og:description", pub.abstract[:300]))
    out += [("property", n, v) for n, v in og]
    return [(attr, name, " ".join(value.split())) for attr, name, value in out if value]


def json_ld(pub: Publication) -> dict[str, Any]:
    """The schema.org description of a publication (Report, ScholarlyArticle, ...)."""
    ref = reference(pub)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": SCHEMA_TYPES.get(pub.type, "CreativeWork"),
        "@id": ref.page_url,
        "url": ref.page_url,
        "name": pub.title,
        "headline": pub.title[:110],
    }
    if pub.subtitle:
        data["alternativeHeadline"] = pub.subtitle
    if pub.authors:
        data["author"] = [
            {"@type": "Person", "name": a.person.name,
             "url": absolute(url_for("browse.person", slug=a.person.slug)),
             **({"affiliation": {"@type": "Organization", "name": a.affiliation}}
                if a.affiliation else {})}
            for a in pub.authors
        ]
    roles = {"publisher": "publisher", "funder": "funder", "commissioned by": "sponsor",
             "partner": "contributor"}
    for o in pub.organisations:
        org = {"@type": "Organization", "name": o.organisation.name,
               "url": absolute(url_for("browse.organisation", slug=o.organisation.slug))}
        data.setdefault(roles.get(o.role, "contributor"), []).append(org)
    if pub.date_iso:
        data["datePublished"] = pub.date_iso
    data["dateModified"] = pub.updated_at.isoformat(timespec="seconds") + "Z"
    if pub.abstract:
        data["abstract"] = pub.abstract
    if ref.keywords:
        data["keywords"] = list(ref.keywords)
    if pub.language:
        data["inLanguage"] = pub.language
    if pub.licence:
        data["license"] = licence_url(pub.licence) or pub.licence
    if pub.series:
        data["isPartOf"] = {"@type": "CreativeWorkSeries", "name": pub.series}
    if pub.series_number and pub.type in REPORT_TYPES:
        data["reportNumber"] = pub.series_number
    identifiers = []
    if pub.doi:
        identifiers.append({"@type": "PropertyValue", "propertyID": "DOI", "value": pub.doi})
        data["sameAs"] = f"https://doi.org/{pub.doi}"
    if pub.isbn:
        data["isbn"] = pub.isbn
    if pub.issn:
        identifiers.append({"@type": "PropertyValue", "propertyID": "ISSN", "value": pub.issn})
    if identifiers:
        data["identifier"] = identifiers
    version = pub.current_version
    if version is not None:
        data["encoding"] = {
            "@type": "MediaObject",
            "contentUrl": ref.pdf_url,
            "encodingFormat": "application/pdf",
            "contentSize": str(version.file.size),
            "sha256": version.file.sha256,
        }
        data["numberOfPages"] = version.file.page_count
    return data


def head_links(pub: Publication) -> list[tuple[str, str, str, str]]:
    """(rel, href, type, title) for <link> tags in a publication page's head."""
    slug = pub.slug
    links = [("alternate", url_for("exports.publication", slug=slug, name=name), mime, title)
             for name, mime, title in EXPORTS]
    links.append(("alternate", url_for("api.publication", slug=slug), "application/json",
                  "JSON"))
    for topic in pub.topics:
        links.append(("alternate", url_for("feeds.topic", slug=topic.slug),
                      "application/atom+xml", f"New in {topic.name}"))
    if pub.series:
        links.append(("alternate", url_for("feeds.series", slug=series_slug(pub.series)),
                      "application/atom+xml", f"New in {pub.series}"))
    return links


def signposting(pub: Publication, *, content: bool = False) -> str:
    """The `Link` header (FAIR Signposting) for a landing page or, with content=True, its PDF.

    Landing pages carry cite-as, describedby (each export), item (the PDF), author, license
    and type; the PDF points back at its landing page (collection).
    """
    ref = reference(pub)
    links: list[str] = []
    if content:
        links.append(f'<{ref.page_url}>; rel="collection"; type="text/html"')
        links.append(f'<{pub_cite_as(pub)}>; rel="cite-as"')
        return ", ".join(links)
    links.append(f'<{pub_cite_as(pub)}>; rel="cite-as"')
    for name, mime, _ in EXPORTS:
        url = absolute(url_for("exports.publication", slug=pub.slug, name=name))
        links.append(f'<{url}>; rel="describedby"; type="{mime}"')
    if ref.pdf_url:
        links.append(f'<{ref.pdf_url}>; rel="item"; type="application/pdf"')
    for a in pub.authors:
        links.append(f'<{absolute(url_for("browse.person", slug=a.person.slug))}>; rel="author"')
    if url := licence_url(pub.licence):
        links.append(f'<{url}>; rel="license"')
    schema = SCHEMA_TYPES.get(pub.type, "CreativeWork")
    links.append(f'<https://schema.org/{schema}>; rel="type"')
    links.append('<https://schema.org/AboutPage>; rel="type"')
    return ", ".join(links)


def pub_cite_as(pub: Publication) -> str:
    """The persistent address to cite: the DOI when there is one, else the page."""
    return f"https://doi.org/{pub.doi}" if pub.doi else page_url(pub)


def _add_signposting(response: Response) -> Response:
    """After a publication page or its PDF is served, add its Signposting links."""
    endpoint = request.endpoint
    if endpoint not in ("reader.publication", "reader.download") or response.status_code != 200:
        return response
    if "Link" in response.headers:  # the view set it already (the publication page does)
        return response
    slug = (request.view_args or {}).get("slug", "")
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        try:
            pub = cat.get(session, slug)
        except Exception:  # the view already answered; a missing record only skips links
            return response
        response.headers["Link"] = signposting(pub, content=endpoint == "reader.download")
    return response


def init_app(app: Flask) -> None:
    """Make the head metadata available to templates and add Signposting headers."""
    app.add_template_global(meta_tags)
    app.add_template_global(json_ld)
    app.add_template_global(head_links)
    app.after_request(_add_signposting)
