"""`portal users ...` as an administrator runs it."""

from __future__ import annotations

from pathlib import Path

from tests.cli import portal


def test_users_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = portal(home, "users", "add", "Ada@Hub.example", "--role", "admin",
                   "--password-stdin", stdin="a long enough password\n")
    assert added.code == 0, added.stderr
    assert added.stdout.strip() == "added ada@hub.example (admin)"
    again = portal(home, "users", "add", "ada@hub.example", "--role", "editor",
                   "--password-stdin", stdin="a long enough password\n")
    assert again.code == 1 and "already an account" in again.stderr
    short = portal(home, "users", "add", "bo@hub.example", "--role", "editor",
                   "--password-stdin", stdin="short\n")
    assert short.code == 1 and "at least 10 characters" in short.stderr
    bad_role = portal(home, "users", "add", "bo@hub.example", "--role", "owner",
                      "--password-stdin", stdin="a long enough password\n")
    assert bad_role.code == 2
    prompted = portal(home, "users", "add", "bo@hub.example", "--role", "editor",
                      stdin="typed at a prompt 1\ntyped at a prompt 1\n")
    assert prompted.code == 0, prompted.stderr
    listed = portal(home, "users", "list")
    assert listed.stdout.splitlines() == [
        "ada@hub.example\tadmin\tactive\tlast sign-in never",
        "bo@hub.example\teditor\tactive\tlast sign-in never",
    ]
    assert portal(home, "users", "disable", "bo@hub.example").code == 0
    assert "bo@hub.example\teditor\tdisabled" in portal(home, "users", "list").stdout
    reset = portal(home, "users", "reset-password", "ada@hub.example", "--password-stdin",
                   stdin="another long password\n")
    assert reset.code == 0 and "new password set" in reset.stdout
    missing = portal(home, "users", "disable", "nobody@hub.example")
    assert missing.code == 1 and "no account" in missing.stderr
