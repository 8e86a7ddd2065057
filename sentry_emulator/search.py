"""Sentry issue search syntax (the subset the connector uses) -> a predicate on issues.

Supported terms (ANDed): ``is:unresolved|resolved|ignored|archived|unassigned|assigned``,
``!is:...``, ``lastSeen:`` / ``firstSeen:`` with ``>``, ``>=``, ``<``, ``<=`` or nothing (same
day... treated as ``>=`` the instant) and an ISO date (fraction and ``Z`` optional) or a
relative ``-24h`` (newer than) / ``+24h`` (older than), ``level:``, ``environment:``,
``timesSeen:>N``, free text (substring of title or culprit). Any other ``key:value`` is a tag
search, which in Sentry matches nothing unless the tag exists: here it matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .data import Issue
from .timeutil import parse_iso, parse_period

STATUSES = ("unresolved", "resolved", "ignored", "archived")
IS_VALUES = (*STATUSES, "unassigned", "assigned", "for_review", "linked", "unlinked", "bookmarked")
_TOKEN = re.compile(r'(!?[\w.]+:"[^"]*"|"[^"]*"|\S+)')
_CMP = re.compile(r"^(>=|<=|>|<|=)?(.*)$", re.DOTALL)  # matches any string


def _compare(raw: str) -> tuple[str | None, str]:
    """The comparison operator (None: none given) and the value after it."""
    match = _CMP.match(raw)
    assert match is not None  # the operator is optional and ``.*`` takes the rest, newlines too
    return match[1], match[2]


class SearchError(ValueError):
    pass


def _date_pred(key: str, raw: str, now: int, negate: bool) -> Callable[[Issue], bool]:
    op, value = _compare(raw)
    value = value.strip('"')
    if value[:1] in "-+" and value[1:2].isdigit():
        try:
            delta = parse_period(value[1:])
        except ValueError as exc:
            raise SearchError(f'Invalid format for "{key}" search: {raw}') from exc
        bound = now - delta
        op = ">=" if value[0] == "-" else "<="
    else:
        try:
            bound = parse_iso(value)
        except ValueError as exc:
            raise SearchError(f"Invalid date: {value}") from exc
        op = op or ">="
    attr = "last_seen" if key == "lastSeen" else "first_seen"
    cmps: dict[str, Callable[[int], bool]] = {
        ">": lambda a: a > bound,
        ">=": lambda a: a >= bound,
        "<": lambda a: a < bound,
        "<=": lambda a: a <= bound,
        "=": lambda a: a == bound,
    }
    cmp = cmps[op]
    return lambda i: cmp(getattr(i, attr)[0]) != negate


# Each term's predicate, built by a function so that it keeps this term's values (a lambda in the
# loop below would see the last term's).
def _text_pred(text: str, negate: bool) -> Callable[[Issue], bool]:
    return lambda i: (text in i.title.lower() or text in i.culprit.lower()) != negate


def _attr_pred(attr: str, want: str, negate: bool) -> Callable[[Issue], bool]:
    return lambda i: (getattr(i, attr) == want) != negate


def _env_pred(env: str, negate: bool) -> Callable[[Issue], bool]:
    return lambda i: (env in i.envs) != negate


def _count_pred(cmp: Callable[[int], bool], negate: bool) -> Callable[[Issue], bool]:
    return lambda i: cmp(i.count) != negate


def _const_pred(result: bool) -> Callable[[Issue], bool]:
    return lambda i: result


def parse(query: str, now: int) -> Callable[[Issue], bool]:
    preds: list[Callable[[Issue], bool]] = []
    for tok in _TOKEN.findall(query or ""):
        negate = tok.startswith("!")
        body = tok[1:] if negate else tok
        if ":" not in body or body.startswith('"'):
            text = body.strip('"').lower()
            preds.append(_text_pred(text, negate))
            continue
        key, _, value = body.partition(":")
        value = value.strip('"')
        if key == "is":
            if value not in IS_VALUES:
                raise SearchError(f'Invalid value for "is" search, valid values are {sorted(IS_VALUES)}')
            if value in STATUSES:
                want = "ignored" if value == "archived" else value
                preds.append(_attr_pred("status", want, negate))
            elif value in ("unassigned", "unlinked"):
                preds.append(_const_pred(not negate))
            else:  # assigned, for_review, linked, bookmarked: nothing is
                preds.append(_const_pred(negate))
        elif key in ("lastSeen", "firstSeen", "age"):
            preds.append(_date_pred("firstSeen" if key == "age" else key, value, now, negate))
        elif key == "level":
            preds.append(_attr_pred("level", value, negate))
        elif key == "environment":
            preds.append(_env_pred(value, negate))
        elif key == "timesSeen":
            op, num = _compare(value)
            try:
                bound = int(num)
            except ValueError as exc:
                raise SearchError(f'Invalid number for "timesSeen" search: {value}') from exc
            counts: dict[str | None, Callable[[int], bool]] = {
                None: bound.__eq__,
                "=": bound.__eq__,
                ">": bound.__lt__,
                ">=": bound.__le__,
                "<": bound.__gt__,
                "<=": bound.__ge__,
            }
            preds.append(_count_pred(counts[op], negate))
        else:  # tag search on a tag no issue has
            preds.append(_const_pred(negate))
    return lambda i: all(p(i) for p in preds)
