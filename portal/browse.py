"""Browse pages: publications by topic, type, year, organisation, person, series and title."""

from __future__ import annotations

import string
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for

from portal.chart import year_chart
from portal.paging import SORT_LABELS, check_past_end, requested_page, requested_sort
from publications import catalogue as c

bp = Blueprint("browse", __name__)
PER_PAGE = 20
LETTERS = [*string.ascii_uppercase, c.OTHER_LETTER]


def _listing(scope: c.Scope, heading: str, kind: str, *, default_sort: str = "newest",
             empty_is_404: bool = True, **extra: Any) -> str:
    """Render one sorted, paginated listing of published publications within `scope`."""
    page = requested_page()
    sort = requested_sort(c.BROWSE_SORTS, default_sort)
    cat = current_app.extensions["catalogue"]
    with cat.reading() as session:
        listing = c.browse(session, scope, sort=sort, page=page, per_page=PER_PAGE)
        if empty_is_404 and listing.total == 0:
            abort(404)
        check_past_end(page, listing.pages)
        return render_template(
            "browse/listing.html", heading=heading, kind=kind, listing=listing, sort=sort,
            sorts=SORT_LABELS, page_url=_page_url, **extra,
        )


def _page_url(**changes: Any) -> str:
    """This page's URL with some query parameters changed; changing the sort resets the page."""
    args = {**request.view_args, **request.args.to_dict()}  # type: ignore[dict-item]
    if "sort" in changes:
        args.pop("page", None)
    args.update({k: v for k, v in changes.items() if v is not None})
    if args.get("page") == 1:
        args.pop("page")
    return url_for(request.endpoint, **args)  # type: ignore[arg-type]


def _index(heading: str, groups: list[c.Grouping], endpoint: str, intro: str,
           **extra: Any) -> str:
    return render_template("browse/index.html", heading=heading, groups=groups,
                           endpoint=endpoint, intro=intro, **extra)


@bp.get("/topics")
def topics() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        groups = c.topic_counts(session)
    return _index("Topics", groups, "browse.topic",
                  "Publications grouped by the policy area they cover.")


def _scope(kind: str, slug: str) -> tuple[c.Scope, str]:
    with current_app.extensions["catalogue"].reading() as session:
        found = c.find_scope(session, kind, slug)
    if found is None:
        abort(404)
    return found


@bp.get("/topics/<slug>")
def topic(slug: str) -> str:
    scope, name = _scope("topic", slug)
    return _listing(scope, name, "Topic", parent=url_for("browse.topics"))


@bp.get("/types")
def types() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        groups = c.type_counts(session)
    return _index("Types of publication", groups, "browse.type",
                  "Reports, working papers, briefings, newsletters and more.")


@bp.get("/types/<slug>", endpoint="type")
def publication_type(slug: str) -> str:
    name = c.find_type(slug)
    if name is None:
        abort(404)
    return _listing(c.Scope(type=name), name.capitalize(), "Type", parent=url_for("browse.types"))


@bp.get("/years")
def years() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        groups = c.year_counts(session)
    chart = year_chart([(int(g.name), g.count) for g in groups])
    return _index("Years", list(reversed(groups)), "browse.year",
                  "Publications by the year they came out, newest first.", chart=chart)


@bp.get("/years/<int:year>")
def year(year: int) -> str:
    return _listing(c.Scope(year=year), f"Published in {year}", "Year",
                    parent=url_for("browse.years"))


@bp.get("/organisations")
def organisations() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        groups = c.organisation_counts(session)
    return _index("Organisations", groups, "browse.organisation",
                  "Publishers, partners, funders and the bodies that commissioned our work.")


@bp.get("/organisations/<slug>")
def organisation(slug: str) -> str:
    scope, name = _scope("organisation", slug)
    with current_app.extensions["catalogue"].reading() as session:
        roles = c.organisation_roles(session, scope.organisation_id)
    return _listing(scope, name, "Organisation", parent=url_for("browse.organisations"),
                    roles=roles)


@bp.get("/people/<slug>")
def person(slug: str) -> str:
    scope, name = _scope("person", slug)
    return _listing(scope, name, "Author")


@bp.get("/series")
def series_index() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        groups = c.series_counts(session)
    return _index("Series", groups, "browse.series",
                  "Publications that belong to a numbered series.")


@bp.get("/series/<slug>")
def series(slug: str) -> str:
    scope, name = _scope("series", slug)
    return _listing(scope, name, "Series", parent=url_for("browse.series_index"))


@bp.get("/titles")
def titles() -> str:
    with current_app.extensions["catalogue"].reading() as session:
        letters = c.letter_counts(session)
    first = next((g.slug for g in letters if g.count), "A")
    letter = request.args.get("letter", first).upper()
    if letter not in LETTERS:
        abort(400)
    heading = "Titles starting with a digit or symbol" if letter == c.OTHER_LETTER else (
        f"Titles starting with {letter}")
    return _listing(c.Scope(letter=letter), heading, "Titles A–Z", default_sort="title",
                    empty_is_404=False, letters=letters, letter=letter)
