"""Compares the catalogue with the file store (and the search index) and lists disagreements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from publications.catalogue import Catalogue
from publications.models import FileVersion, PageText, Publication, Slug, StoredFile
from publications.uploads import Upload


@dataclass(frozen=True)
class Problem:
    where: str  # "catalogue", "files", "index"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_consistency(
    catalogue: Catalogue,
    *,
    verify_hashes: bool = False,
    index_check: Callable[[Catalogue], list[Problem]] | None = None,
) -> list[Problem]:
    """Every disagreement between catalogue, file store and (if given) index; [] when they agree."""
    problems: list[Problem] = []
    store = catalogue.files
    with catalogue.reading() as session:
        files = session.execute(
            select(StoredFile.id, StoredFile.sha256, StoredFile.size, StoredFile.page_count)
        ).all()
        known = set()
        page_counts = dict(
            session.execute(
                select(PageText.file_id, func.count(PageText.page)).group_by(PageText.file_id)
            ).all()
        )
        for file_id, sha, size, pages in files:
            known.add(sha)
            path = store.path_for(sha)
            if not path.is_file():
                problems.append(Problem("files", f"file {sha} is in the catalogue but missing"))
                continue
            if path.stat().st_size != size:
                problems.append(
                    Problem("files", f"file {sha} has {path.stat().st_size} bytes, catalogue says {size}")
                )
            elif verify_hashes and not store.verify(sha):
                problems.append(Problem("files", f"file {sha} no longer matches its SHA-256"))
            expected = min(pages, catalogue.settings.max_pages)
            if page_counts.get(file_id, 0) != expected:
                problems.append(
                    Problem(
                        "catalogue",
                        f"file {sha} has {page_counts.get(file_id, 0)} page texts, "
                        f"expected {expected}",
                    )
                )
        # Files that staff uploaded and that wait in (or failed in) the upload queue are
        # kept on purpose; they are accounted for by the queue, not by a publication.
        queued = set(session.scalars(select(Upload.sha256).where(Upload.sha256 != "")))
        for sha in store.all_hashes():
            if sha not in known and sha not in queued:
                problems.append(
                    Problem("files", f"file {sha} is in the store but in no catalogue record")
                )
        for tmp in store.stale_temporaries():
            problems.append(Problem("files", f"unfinished temporary file {tmp.name} in the store"))

        # A file row without a publication is allowed: deleting a publication keeps its
        # files (the portal never deletes stored bytes), and a crash cannot leave one
        # (the file row and its version commit together).

        no_slug = session.scalars(
            select(Publication.id).where(
                ~select(Slug.slug)
                .where(Slug.slug == Publication.slug, Slug.publication_id == Publication.id)
                .exists()
            )
        ).all()
        for pid in no_slug:
            problems.append(Problem("catalogue", f"publication {pid}'s slug is not registered"))

        multi_current = session.execute(
            select(FileVersion.publication_id, func.count(FileVersion.id))
            .where(FileVersion.is_current.is_(True))
            .group_by(FileVersion.publication_id)
            .having(func.count(FileVersion.id) > 1)
        ).all()
        for pid, n in multi_current:
            problems.append(Problem("catalogue", f"publication {pid} has {n} current files"))
    if index_check is not None:
        problems.extend(index_check(catalogue))
    return problems
