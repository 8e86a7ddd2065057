"""A configured catalog naming a stream this connector lacks (`Projects`, `alerts_rules`): the
CDK reads the streams it knows and passes over the others without a word, so a typo looks like a
sync that found nothing."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def unknown_streams_message(requested: Iterable[str], known: Iterable[str]) -> str | None:
    """What to fix when ``requested`` names streams not in ``known``; None when it does not."""
    names = list(known)
    unknown = [name for name in dict.fromkeys(requested) if name not in names]
    if not unknown:
        return None
    hints = ", ".join(f"`{name}` (the closest stream is `{_closest(name, names)}`)" for name in unknown)
    noun = "stream" if len(unknown) == 1 else "streams"
    return (
        f"The catalog names {noun} this connector does not have: {hints}. Correct the catalog's "
        f"stream names (run discover for the list); nothing was synced."
    )


def _closest(name: str, names: list[str]) -> str:
    # Case and separators differ most often (`Projects`, `alerts-rules`); compared without them.
    def folded(text: str) -> str:
        return text.lower().replace("-", "_")

    by_fold = {folded(known): known for known in names}
    best = difflib.get_close_matches(folded(name), list(by_fold), n=1, cutoff=0.0)
    return by_fold[best[0]] if best else names[0]
