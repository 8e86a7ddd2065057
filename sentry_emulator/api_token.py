"""An API token as the emulator knows it: what a request carries once authenticated (request.py)
and what auth.py mints and checks. Apart from both, so that neither imports the other back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    value: str
    scopes: frozenset[str]
    forbidden: frozenset[int]  # project idx that answer 403 to this token
    kind: str
