"""Logins for the web app: `--auth USER:PASS` / KBQA_UI_AUTH, checked before gradio is even imported."""

from __future__ import annotations

from kbqa.errors import UsageError


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """ "user:pass[,user2:pass2]" → [(user, pass), …]; UsageError names a malformed pair."""
    if not value:
        return None
    pairs = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise UsageError(f"--auth {item.strip()!r}: expected USER:PASSWORD")
        pairs.append((user, password))
    return pairs
