"""“Did you mean …?” for misspelt names: configuration keys, command-line flags and subcommands.

Standard library only (difflib), so the configuration, the command line and the build hook can all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's ratio: 0.6 accepts one or two wrong letters in short names ("shard_size", "quantise", "formt") and rejects
# unrelated words ("colour" for "format").
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word`` (case and ``_``/``-`` ignored), or None when none is close."""
    options = {_folded(c): c for c in sorted(set(candidates))}
    folded = _folded(word)
    if folded in options and options[folded] != word:
        return options[folded]  # only the case or the separators differ
    match = difflib.get_close_matches(folded, list(options), n=1, cutoff=CUTOFF)
    return options[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'shard-size'?"`` for the closest candidate, or ``""`` when none is close; for messages such as
    ``unknown key 'shard_size' (did you mean 'shard-size'?)``."""
    match = closest(word, candidates)
    return f"did you mean {match!r}?" if match else ""


def _folded(name: str) -> str:
    return name.lower().replace("_", "-")
