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
_CMP = re.compile(r"^(>=|<=|>|<|=)?(.*)$")


class SearchError(ValueError):
    pass


def _date_pred(key: str, raw: str, now: int, negate: bool) -> Callable[[Issue], bool]:
    op, value = _CMP.match(raw).groups()
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
    cmp = {
        ">": lambda a: a > bound,
        ">=": lambda a: a >= bound,
        "<": lambda a: a < bound,
        "<=": lambda a: a <= bound,
        "=": lambda a: a == bound,
    }[op]
    return lambda i: cmp(getattr(i, attr)[0]) != negate


def parse(query: str, now: int) -> Callable[[Issue], bool]:
    preds: list[Callable[[Issue], bool]] = []
    for tok in _TOKEN.findall(query or ""):
        negate = tok.startswith("!")
        body = tok[1:] if negate else tok
        if ":" not in body or body.startswith('"'):
            text = body.strip('"').lower()
            preds.append(lambda i, t=text, n=negate: (t in i.title.lower() or t in i.culprit.lower()) != n)
            continue
        key, _, value = body.partition(":")
        value = value.strip('"')
        if key == "is":
            if value not in IS_VALUES:
                raise SearchError(f'Invalid value for "is" search, valid values are {sorted(IS_VALUES)}')
            if value in STATUSES:
                want = "ignored" if value == "archived" else value
                preds.append(lambda i, w=want, n=negate: (i.status == w) != n)
            elif value in ("unassigned", "unlinked"):
                preds.append(lambda i, n=negate: not n)
            else:  # assigned, for_review, linked, bookmarked: nothing is
                preds.append(lambda i, n=negate: n)
        elif key in ("lastSeen", "firstSeen", "age"):
            preds.append(_date_pred("firstSeen" if key == "age" else key, value, now, negate))
        elif key == "level":
            preds.append(lambda i, v=value, n=negate: (i.level == v) != n)
        elif key == "environment":
            preds.append(lambda i, v=value, n=negate: (v in i.envs) != n)
        elif key == "timesSeen":
            op, num = _CMP.match(value).groups()
            try:
                bound = int(num)
            except ValueError as exc:
                raise SearchError(f'Invalid number for "timesSeen" search: {value}') from exc
            cmp = {
                None: bound.__eq__,
                "=": bound.__eq__,
                ">": bound.__lt__,
                ">=": bound.__le__,
                "<": bound.__gt__,
                "<=": bound.__ge__,
            }[op]
            preds.append(lambda i, c=cmp, n=negate: c(i.count) != n)
        else:  # tag search on a tag no issue has
            preds.append(lambda i, n=negate: n)
    return lambda i: all(p(i) for p in preds)
