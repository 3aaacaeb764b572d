"""`portal synonyms ...`: show, check and extend the synonyms and acronyms search uses."""

from __future__ import annotations

import json

import click

from index import SYNONYMS_FILE
from index.vocabulary import check_line, load
from portal.cli import Context, cli, pass_context


@cli.group()
def synonyms() -> None:
    """Synonyms and acronyms (GP = general practitioner): the shipped list plus
    <PORTAL_HOME>/synonyms.txt, which staff edit. Changes apply on the next search."""


def _path(ctx: Context):  # type: ignore[no-untyped-def]
    return ctx.settings.home / SYNONYMS_FILE


@synonyms.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group.")
@pass_context
def show(ctx: Context, as_json: bool) -> None:
    """List the groups in force and where each comes from."""
    vocab = load(_path(ctx))
    for group, source in zip(vocab.groups, vocab.sources, strict=True):
        members = [m.text for m in group]
        if as_json:
            click.echo(json.dumps({"members": members, "source": source}, ensure_ascii=False))
        else:
            click.echo(f"{' = '.join(members)}    [{source}]")
    for problem in vocab.problems:
        click.echo(f"warning: {problem}", err=True)


@synonyms.command("check")
@pass_context
def check(ctx: Context) -> None:
    """Report lines of the staff's file that cannot be used (exit status 1 if any)."""
    path = _path(ctx)
    vocab = load(path)
    for problem in vocab.problems:
        click.echo(str(problem))
    if vocab.problems:
        raise SystemExit(1)
    where = str(path) if path.is_file() else f"{path} (not created yet)"
    click.echo(f"{len(vocab.groups)} groups in force; staff file {where}: no problems")


@synonyms.command("add")
@click.argument("line")
@pass_context
def add(ctx: Context, line: str) -> None:
    """Append a group, e.g. 'LA = local authority = council', to the staff's file."""
    problems = check_line(line)
    if problems:
        raise click.ClickException("; ".join(p.reason for p in problems))
    path = _path(ctx)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_text(encoding="utf-8") if path.is_file() else ""
        text = existing + ("" if not existing or existing.endswith("\n") else "\n") + line.strip() + "\n"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    click.echo(f"added to {path}: {line.strip()}")
