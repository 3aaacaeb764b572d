"""`portal users ...`: add, list, disable and reset the passwords of staff accounts."""

from __future__ import annotations

import sys

import click

from portal.cli import Context, cli, pass_context
from publications.users import ROLES, AccountError, Accounts


@cli.group()
def users() -> None:
    """Staff accounts that may sign in at /staff/."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _accounts(ctx: Context) -> Accounts:
    return Accounts(ctx.catalogue)


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="editor: upload and edit; admin: also delete and manage accounts.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def add(ctx: Context, email: str, role: str, password_stdin: bool) -> None:
    """Create an account."""
    try:
        account = _accounts(ctx).add(email, role, _password(password_stdin),
                                     actor="portal users")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {account.email} ({account.role})")


@users.command("list")
@pass_context
def list_(ctx: Context) -> None:
    """Every account with its role and state."""
    for a in _accounts(ctx).list():
        state = "active" if a.active else "disabled"
        last = a.last_login_at.isoformat(timespec="minutes") if a.last_login_at else "never"
        click.echo(f"{a.email}\t{a.role}\t{state}\tlast sign-in {last}")


@users.command()
@click.argument("email")
@pass_context
def disable(ctx: Context, email: str) -> None:
    """Stop an account signing in (its open sessions end at once)."""
    try:
        account = _accounts(ctx).disable(email, actor="portal users")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"disabled {account.email}")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def reset_password(ctx: Context, email: str, password_stdin: bool) -> None:
    """Set a new password; also lifts a lockout and ends the account's sessions."""
    try:
        account = _accounts(ctx).reset_password(email, _password(password_stdin),
                                                actor="portal users")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new password set for {account.email}")
