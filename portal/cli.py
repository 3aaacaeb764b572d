"""The `portal` command: ingest, import, show, publish, withdraw, check, serve."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from index import SYNONYMS_FILE, IndexUnavailable
from publications.catalogue import Catalogue, describe
from publications.indexer import Indexer, IndexingAlongside, index_problems
from publications.errors import PortalError
from publications.ingest import Ingester, Job, Outcome, find_files
from publications.manifest import read_manifest
from publications.settings import Settings

if TYPE_CHECKING:
    from index import SearchIndex


class Context:
    """Lazily opened catalogue and index for one command run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._catalogue: Catalogue | None = None
        self._index: SearchIndex | None = None

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = Catalogue(self.settings)
        return self._catalogue

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            from index import SearchIndex  # Whoosh loads here, not when the command starts

            self._index = SearchIndex(self.settings.index_dir,
                                      synonyms_file=self.settings.home / SYNONYMS_FILE,
                                      mapped_budget_mb=self.settings.index_resident_mb)
        return self._index

    @property
    def indexer(self) -> Indexer:
        return Indexer(self.catalogue, self.index)

    def sync_index(self) -> None:
        """Apply the journal so what a command changed is searchable when it returns."""
        try:
            self.indexer.apply_pending()
        except IndexUnavailable as exc:
            click.echo(f"warning: the search index was not updated ({exc}); "
                       "`portal reindex` will catch up", err=True)
        except OSError as exc:  # disk full or read-only: the journal keeps the changes
            click.echo(f"warning: the search index was not updated ({exc.strerror or exc}); "
                       "the next command or `portal reindex` will catch up", err=True)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        if self._catalogue is not None:
            self._catalogue.close()


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Research publications repository and search portal.

    The data home is PORTAL_HOME (default ./instance).
    """
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.UsageError(f"bad PORTAL_* setting: {exc}") from exc
    ctx.obj = Context(settings)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Entry point of the `portal` console script.

    Errors people can cause are reported by the commands themselves. Anything else is a bug:
    the person gets one line and the traceback goes to a log file, not to their terminal.
    """
    try:
        cli(standalone_mode=True)
    except PortalError as exc:  # pragma: no cover - commands catch their own
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        from publications.errors import write_failure

        reason = write_failure(exc)
        if reason is not None:  # the disk, not a bug: say so, and what to do
            click.echo(f"error: the data home could not be written ({reason}); nothing "
                       "half-written is visible, run the command again once it is fixed",
                       err=True)
            sys.exit(1)
        log = _log_crash(exc)
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        if log:
            click.echo(f"details were written to {log}", err=True)
        sys.exit(3)


def _log_crash(exc: BaseException) -> Path | None:
    import datetime
    import traceback

    try:
        home = Settings.from_env().home
        logs = home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / "portal-errors.log"
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {datetime.datetime.now().isoformat()} {' '.join(sys.argv)}\n")
            f.write("".join(traceback.format_exception(exc)))
        return path
    except Exception:
        return None


# --- reporting ------------------------------------------------------------------------


class Reporter:
    """Prints outcomes as JSON lines or as people-readable lines, with a progress bar."""

    def __init__(self, as_json: bool, total: int | None, what: str) -> None:
        self.as_json = as_json
        self.counts: Counter[str] = Counter()
        self.failures: list[Outcome] = []
        self.without_text = 0  # stored files with no text layer (scanned, not recognised)
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=what, file=sys.stderr, dynamic_ncols=True)

    def __call__(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status == "failed":
            self.failures.append(outcome)
        elif outcome.status == "added" and "no-text-layer" in outcome.flags:
            self.without_text += 1
        if self.as_json:
            line = json.dumps(outcome.as_json(), ensure_ascii=False)
            self._write(line)
        elif outcome.status == "failed":
            self._write(f"FAILED  {outcome.path}: {outcome.error}")
        else:
            extra = f" [{', '.join(outcome.flags)}]" if outcome.flags else ""
            self._write(f"{outcome.status:<9} {outcome.path} -> {outcome.slug}{extra}")
        if self.bar is not None:
            self.bar.update(1)

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            click.echo(line)
        sys.stdout.flush()

    def finish(self) -> int:
        if self.bar is not None:
            self.bar.close()
        summary = ", ".join(
            f"{self.counts[k]} {k}" for k in ("added", "duplicate", "failed") if self.counts[k]
        )
        click.echo(f"{summary or 'nothing to do'}", err=True)
        if self.failures and not self.as_json:
            click.echo("Not stored:", err=True)
            for o in self.failures:
                click.echo(f"  {o.path}: {o.error}", err=True)
        if self.without_text:
            from publications.ocr import no_text_layer_hint

            click.echo(f"note: {no_text_layer_hint(self.without_text)}", err=True)
        return 1 if self.failures else 0


def _size(job: Job) -> int:
    try:
        return job.path.stat().st_size if job.path else 0
    except OSError:
        return 0


def _file_jobs(paths: tuple[str, ...], pending: list[Outcome]) -> Iterator[Job]:
    for item in find_files(Path(p) for p in paths):
        if isinstance(item, tuple):
            pending.append(Outcome(str(item[0]), "failed", error=item[1]))
        else:
            yield Job(str(item), item)


# When the files not yet stored are this share of the batch's bytes, the index segment of the
# publications stored so far is finished and listed in the background (`IndexingAlongside.cut`)
# while the last files are read; the rest get a segment of their own at the end. Writing a
# segment's postings takes about a tenth of the time reading its files did, so the first part's
# fits in the time the last tenth of the batch takes, and what is left after the last file is
# a small segment's instead of the whole batch's.
CUT_SHARE = 0.1


def _run_indexing_alongside(ctx: Context, ingester: Ingester, jobs: list[Job],
                            reporter: Callable[[Outcome], None]) -> None:
    """Run a batch, indexing each publication it adds while the batch goes on; what that
    leaves out (see `IndexingAlongside`) the caller's `sync_index` applies afterwards. The
    index is opened when the first publication is stored, so the extraction workers start
    without waiting for it."""
    sizes = {job.label: _size(job) for job in jobs}
    remaining = sum(sizes.values())
    cut_at = remaining * CUT_SHARE if remaining else -1  # records without files: no cut
    alongside: IndexingAlongside | None = None
    opened = False

    def report(outcome: Outcome) -> None:
        nonlocal remaining, cut_at, alongside, opened
        reporter(outcome)
        if outcome.status == "added":
            if not opened:
                opened = True
                try:
                    alongside = IndexingAlongside(ctx.indexer, expected=len(jobs))
                except Exception:  # noqa: BLE001 - an index that cannot be opened is
                    alongside = None  # reported by sync_index after the batch
            if alongside is not None:
                alongside.stored(outcome.id)
        remaining -= sizes.get(outcome.path, 0)
        if remaining <= cut_at and alongside is not None:
            alongside.cut()
            cut_at = -1  # once

    try:
        ingester.run(jobs, report)
        ingester.release_workers()  # they end while the last segment is written
        if alongside is not None:
            alongside.finish()
    finally:
        if alongside is not None:
            alongside.close()


# --- commands -------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--publish", is_flag=True, help="Publish each new publication at once.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Extract in this many worker processes.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input file per line.")
@click.option("--ocr", is_flag=True,
              help="Recognise the text of scanned PDFs (no text layer) with OCRmyPDF.")
@pass_context
def ingest(ctx: Context, paths: tuple[str, ...], publish: bool, jobs: int, as_json: bool,
           ocr: bool) -> None:
    """Take in PDF files and folders (recursively). Exit 1 if any file failed."""
    _require_ocr(ocr)
    missing: list[Outcome] = []
    # Largest files first, so that with several workers no one is left with a big file at
    # the end while the others sit idle.
    jobs_list = sorted(_file_jobs(paths, missing), key=_size, reverse=True)
    reporter = Reporter(as_json, len(jobs_list) + len(missing), "file")
    for o in missing:
        reporter(o)
    with Ingester(ctx.catalogue, jobs=jobs, publish=publish, ocr=ocr) as ingester:
        _run_indexing_alongside(ctx, ingester, jobs_list, reporter)
    ctx.sync_index()
    sys.exit(reporter.finish())


@cli.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--publish", is_flag=True, help="Publish each new publication at once.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record per line.")
@click.option("--ocr", is_flag=True,
              help="Recognise the text of scanned PDFs (no text layer) with OCRmyPDF.")
@pass_context
def import_(ctx: Context, manifest: str, publish: bool, jobs: int, as_json: bool,
            ocr: bool) -> None:
    """Import a JSON Lines or CSV manifest of records (a back catalogue)."""
    _require_ocr(ocr)
    path = Path(manifest)
    try:
        lines = list(read_manifest(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read the manifest {manifest}: {exc}") from exc
    reporter = Reporter(as_json, len(lines), "record")
    jobs_list: list[Job] = []
    for line in lines:
        if line.error or line.record is None:
            reporter(Outcome(line.label, "failed", error=line.error))
        else:
            jobs_list.append(Job(line.label, line.file, line.record))
    with Ingester(ctx.catalogue, jobs=jobs, publish=publish, actor="portal import",
                  ocr=ocr) as ingester:
        _run_indexing_alongside(ctx, ingester, jobs_list, reporter)
    ctx.sync_index()
    sys.exit(reporter.finish())


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def show(ctx: Context, ref: str, as_json: bool) -> None:
    """Show one publication by id or slug."""
    try:
        with ctx.catalogue.reading() as session:
            data = describe(ctx.catalogue.get(session, ref))
    except PortalError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key in ("id", "slug", "title", "subtitle", "status", "type", "date", "series",
                "series_number", "language", "licence", "doi", "isbn", "issn", "url",
                "external_link", "withdrawn_reason"):
        if data.get(key):
            click.echo(f"{key:>16}: {data[key]}")
    for key in ("authors", "organisations"):
        for item in data[key]:
            extra = item.get("affiliation") or item.get("role") or ""
            click.echo(f"{key[:-1]:>16}: {item['name']}" + (f" ({extra})" if extra else ""))
    if data["topics"]:
        click.echo(f"{'topics':>16}: {', '.join(data['topics'])}")
    if data["keywords"]:
        click.echo(f"{'keywords':>16}: {', '.join(data['keywords'])}")
    if data["file"]:
        f = data["file"]
        flags = f" [{', '.join(f['flags'])}]" if f["flags"] else ""
        click.echo(f"{'file':>16}: {f['sha256'][:12]}… {f['pages']} pages, {f['size']} bytes{flags}")
    if data["provenance"]:
        src = ", ".join(f"{k} from {v}" for k, v in sorted(data["provenance"].items()))
        click.echo(f"{'provenance':>16}: {src}")
    if data["abstract"]:
        click.echo("")
        click.echo(data["abstract"])


def _set_status(ctx: Context, ref: str, status: str, reason: str = "") -> None:
    try:
        stored = ctx.catalogue.set_status(ref, status, reason=reason, actor="portal command")
    except PortalError as exc:
        _fail(str(exc))
    ctx.sync_index()
    click.echo(f"{stored.slug}: {stored.status}")


@cli.command()
@click.argument("ref")
@pass_context
def publish(ctx: Context, ref: str) -> None:
    """Publish a draft (or restore a withdrawn publication)."""
    _set_status(ctx, ref, "published")


@cli.command()
@click.argument("ref")
@pass_context
def unpublish(ctx: Context, ref: str) -> None:
    """Take a publication back to draft."""
    _set_status(ctx, ref, "draft")


@cli.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why it is withdrawn; shown on its tombstone page.")
@pass_context
def withdraw(ctx: Context, ref: str, reason: str) -> None:
    """Withdraw a publication; its page stays as a tombstone with the reason."""
    _set_status(ctx, ref, "withdrawn", reason)


@cli.command()
@click.option("--verify-hashes", is_flag=True, help="Re-read every stored file and check its SHA-256.")
@pass_context
def check(ctx: Context, verify_hashes: bool) -> None:
    """Compare catalogue, file store and index; exit 0 only when they agree."""
    from publications.check import check_consistency

    problems = check_consistency(
        ctx.catalogue,
        verify_hashes=verify_hashes,
        index_check=lambda cat: index_problems(cat, ctx.index),
    )
    for p in problems:
        click.echo(str(p))
    if problems:
        click.echo(f"{len(problems)} disagreement(s)", err=True)
        sys.exit(1)
    with ctx.catalogue.reading() as session:
        n = ctx.catalogue.count(session, status=None)
    click.echo(f"ok: catalogue, file store and index agree ({n} publications)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the socket (one per CPU core uses them all).")
@pass_context
def serve(ctx: Context, host: str, port: int, threads: int, workers: int) -> None:
    """Serve the portal with a production WSGI server (waitress)."""
    from portal.serving import serve as serve_portal

    click.echo(f"Serving the portal at http://{host}:{port}/ (Ctrl+C stops)", err=True)
    try:
        serve_portal(ctx.settings, host, port, threads, workers)
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


# --- search ---------------------------------------------------------------------------

SORT_CHOICES = ("relevance", "newest", "oldest", "title")


def _parse_filters(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from index.documents import FILTER_FIELDS

    out = []
    for item in values:
        field, sep, value = item.partition("=")
        field = field.strip().lower()
        if not sep or not value.strip():
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--filter")
        if field not in FILTER_FIELDS:
            raise click.BadParameter(
                f"unknown field {field!r}; use one of {', '.join(FILTER_FIELDS)}",
                param_hint="--filter",
            )
        out.append((field, value.strip()))
    return tuple(out)


def result_json(result) -> dict:  # type: ignore[no-untyped-def]
    """The public JSON shape of one answer of `portal search --json`."""
    return {
        "query": result.query,
        "total": result.total,
        "hits": [
            {
                "id": h.id,
                "slug": h.slug,
                "title": h.title,
                "score": round(float(h.score), 4),
                "year": h.year,
                "type": h.type,
                "snippet": h.snippet,
                "pages": [{"page": p.page, "snippet": p.snippet} for p in h.pages],
            }
            for h in result.hits
        ],
        "facets": {k: [[v, n] for v, n in pairs] for k, pairs in result.facets.items()},
        "suggestion": result.suggestion,
    }


@cli.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--page", "page", default=1, show_default=True, type=click.IntRange(1, None))
@click.option("--sort", default="relevance", show_default=True, type=click.Choice(SORT_CHOICES))
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Keep only hits with this facet value (repeatable).")
@pass_context
def search(ctx: Context, query: str, as_json: bool, limit: int, page: int, sort: str,
           filters: tuple[str, ...]) -> None:
    """Search published publications. QUERY '-' reads one query per line from stdin."""
    from index import SearchRequest

    wanted = _parse_filters(filters)
    queries = (line.rstrip("\n") for line in sys.stdin) if query == "-" else iter([query])
    cat = ctx.catalogue
    try:
        index = ctx.index
        for q in queries:
            request = SearchRequest(query=q, page=page, limit=limit, sort=sort, filters=wanted)
            with cat.reading() as session:
                result = index.search(
                    request, page_text=lambda pid, n: cat.page_text(session, pid, n)
                )
            if as_json:
                click.echo(json.dumps(result_json(result), ensure_ascii=False))
            else:
                _print_result(result)
            sys.stdout.flush()
    except IndexUnavailable as exc:
        _fail(f"the search index is unavailable ({exc}); try again, or run `portal reindex`")


def _print_result(result) -> None:  # type: ignore[no-untyped-def]
    import html
    import re

    def plain(snippet: str) -> str:
        return html.unescape(re.sub(r"</?mark>", "*", snippet))

    click.echo(f"{result.total} result{'s' if result.total != 1 else ''} for {result.query!r}")
    if result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}?")
    first = (result.page - 1) * result.limit
    for n, hit in enumerate(result.hits, start=first + 1):
        meta = ", ".join(str(x) for x in (hit.type, hit.year) if x)
        click.echo(f"{n:>3}. {hit.title} ({meta}) [{hit.slug}]")
        for p in hit.pages:
            click.echo(f"       p. {p.page}: {plain(p.snippet)[:150]}")


@cli.command()
@click.option("--if-needed", is_flag=True,
              help="Only rebuild when the index's schema version differs from the code's.")
@click.option("--jobs", "-j", default=lambda: min(2, os.cpu_count() or 1),
              show_default="the machine's cores, at most 2", type=click.IntRange(1, 64),
              help="Worker processes writing the index side by side (each holds one batch "
                   "of publications in memory and writes one segment); 1 writes in this "
                   "process.")
@pass_context
def reindex(ctx: Context, if_needed: bool, jobs: int) -> None:
    """Rebuild the search index beside the live one from stored text, then swap it in."""
    if if_needed and not ctx.index.needs_rebuild():
        ctx.sync_index()
        click.echo(f"index is current (schema version {ctx.index.schema_version})")
        return
    with ctx.catalogue.reading() as session:
        total = ctx.catalogue.count(session, status=None)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="publication", file=sys.stderr, dynamic_ncols=True)

    def progress(done: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        n = ctx.indexer.rebuild(progress=progress, processes=jobs)
    except IndexUnavailable as exc:
        _fail(f"the index could not be rebuilt: {exc}")
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"rebuilt the index: {n} publications (schema version {ctx.index.schema_version})")

from portal import cli_users  # noqa: E402,F401  (registers `portal users ...`)
from portal import cli_synonyms  # noqa: E402,F401  (registers `portal synonyms ...`)


# --- staff work from the command line -------------------------------------------------------


@cli.command()
@click.argument("ref")
@click.option("--set", "changes", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A field to change (repeatable). Lists (authors, organisations, topics, "
                   "keywords) take values separated by ';'; organisations as 'Name [role]'.")
@pass_context
def edit(ctx: Context, ref: str, changes: tuple[str, ...]) -> None:
    """Change a publication's metadata, as staff do on its edit page."""
    from publications.fields import KNOWN_FIELDS
    from publications.manifest import parse_list_field

    values: dict[str, object] = {}
    for item in changes:
        field, sep, value = item.partition("=")
        field = field.strip()
        if not sep or field not in KNOWN_FIELDS - {"file", "id", "slug", "status",
                                                    "withdrawn_reason"}:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE with a metadata field",
                                     param_hint="--set")
        values[field] = parse_list_field(field, value)
    try:
        stored = ctx.catalogue.update(ref, values, actor="portal command")
    except PortalError as exc:
        _fail(str(exc))
    ctx.sync_index()
    click.echo(f"{stored.slug}: updated {', '.join(sorted(values))}")


@cli.command("replace-file")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_context
def replace_file_command(ctx: Context, ref: str, path: str) -> None:
    """Attach a new version of a publication's file; earlier versions are kept."""
    from publications.catalogue import DuplicateFile, FileInput, replace_file
    from publications.extract import ExtractionPool, ExtractLimits
    from publications.ingest import check_and_hash

    source = Path(path)
    settings = ctx.settings
    try:
        sha, size = check_and_hash(source)
        limits = ExtractLimits(settings.extract_timeout, settings.extract_memory_mb,
                               settings.max_pages)
        with ExtractionPool(1, limits) as pool:
            extraction = pool.extract(source)
        ctx.catalogue.files.put_copy(source, sha)
        stored = replace_file(ctx.catalogue, ref, FileInput(sha, size, extraction, source.name),
                              actor="portal command")
    except DuplicateFile as dup:
        _fail(f"that file is already stored as publication {dup.existing.id} "
              f"({dup.existing.slug})")
    except PortalError as exc:
        _fail(str(exc))
    ctx.sync_index()
    click.echo(f"{stored.slug}: new file version stored")


@cli.command()
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Really delete (otherwise nothing happens).")
@pass_context
def delete(ctx: Context, ref: str, yes: bool) -> None:
    """Delete a publication's record for good (its files stay in the store). Prefer
    `withdraw`, which keeps a tombstone page."""
    from publications.catalogue import delete_publication

    if not yes:
        _fail("deleting cannot be undone; add --yes (or use `portal withdraw` instead)")
    try:
        gone = delete_publication(ctx.catalogue, ref, actor="portal command")
    except PortalError as exc:
        _fail(str(exc))
    ctx.sync_index()
    click.echo(f"deleted publication {gone.id} ({gone.slug})")


# --- OCR of scanned PDFs ------------------------------------------------------------------


def _require_ocr(wanted: bool) -> None:
    """--ocr without OCRmyPDF/Tesseract installed: say what to install, before any work."""
    if wanted:
        from publications.ocr import unavailable_reason

        reason = unavailable_reason()
        if reason:
            raise click.UsageError(reason)


@cli.command("ocr")
@click.argument("refs", nargs=-1, required=True)
@pass_context
def ocr_command(ctx: Context, refs: tuple[str, ...]) -> None:
    """Recognise the text of stored scanned publications (by id or slug) with OCRmyPDF.

    The stored file is kept as it is; the recognised text becomes its searchable page text.
    A publication whose file already has a text layer is left alone. Exit 1 if any failed.
    """
    from publications.catalogue import replace_page_texts
    from publications.ocr import FLAG_OCR, with_recognised_text
    from publications.propose import propose_metadata
    from publications.records import FLAG_NO_TEXT_LAYER, Extraction

    _require_ocr(True)
    settings = ctx.settings
    failed = 0
    for ref in refs:
        try:
            with ctx.catalogue.reading() as session:
                pub = ctx.catalogue.get(session, ref)
                version = pub.current_version
                if version is None:
                    raise PortalError("it has no file")
                sha, flags = version.file.sha256, tuple(version.file.flags or ())
                pages, name = version.file.page_count, version.original_name
                texts = tuple(ctx.catalogue.page_texts(session, version.file.id))
            if FLAG_NO_TEXT_LAYER not in flags:
                click.echo(f"{ref}: already has a text layer, nothing to do")
                continue
            before = Extraction(page_count=pages, pages=texts, flags=flags)
            after = with_recognised_text(before, ctx.catalogue.files.path_for(sha),
                                         timeout=settings.ocr_timeout,
                                         memory_mb=settings.extract_memory_mb)
            if FLAG_OCR not in after.flags:
                raise PortalError("no text could be recognised in its pages")
            # A scanned draft usually has no title yet: propose one from the new text.
            proposal = propose_metadata(after, supplied={}, filename=name)
            stored = replace_page_texts(ctx.catalogue, ref, after.pages, after.flags,
                                        proposed=proposal.fields, actor="portal ocr")
            words = sum(len(t.split()) for t in after.pages)
            click.echo(f"{stored.slug}: text recognised on {stored.pages} page(s), {words} words")
        except PortalError as exc:
            failed += 1
            click.echo(f"{ref}: {exc}", err=True)
    ctx.sync_index()
    sys.exit(1 if failed else 0)


# --- backup: export and restore ----------------------------------------------------------


def _progress_bars(desc: str, total: int | None, unit: str):  # type: ignore[no-untyped-def]
    """A tqdm bar on a terminal; silent otherwise (scripts, tests, cron)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not sys.stderr.isatty())


@cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@pass_context
def export_command(ctx: Context, directory: str) -> None:
    """Write a complete, checksummed export of the portal to DIRECTORY (new or empty).

    Safe while the portal runs: the catalogue is read in one transaction."""
    from publications.backup import BackupError, export

    try:
        summary = export(ctx.catalogue, Path(directory), progress=_progress_bars)
    except BackupError as exc:
        _fail(str(exc))
    rows = sum(summary.rows.values())
    click.echo(f"exported {summary.rows.get('publications', 0)} publications ({rows} records) "
               f"and {summary.files} files ({summary.bytes} bytes) to {summary.directory}")


@cli.command("restore")
@click.argument("directory", type=click.Path(file_okay=False))
@pass_context
def restore_command(ctx: Context, directory: str) -> None:
    """Recreate the portal from an export in DIRECTORY into an empty data home.

    Every file's SHA-256 is checked; a damaged export is refused and nothing is kept."""
    from publications.backup import BackupError, restore

    def rebuild(catalogue: Catalogue) -> int:
        from index import SearchIndex

        index = SearchIndex(ctx.settings.index_dir)
        try:
            return Indexer(catalogue, index).rebuild()
        finally:
            index.close()

    try:
        summary = restore(ctx.settings, Path(directory), progress=_progress_bars,
                          rebuild_index=rebuild)
    except BackupError as exc:
        _fail(f"{exc}")
    except IndexUnavailable as exc:
        _fail(f"the search index could not be built ({exc}); nothing was kept")
    click.echo(f"restored {summary.rows.get('publications', 0)} publications "
               f"({sum(summary.rows.values())} records) and {summary.files} files into "
               f"{ctx.settings.home}; the index holds {summary.publications} publications")
