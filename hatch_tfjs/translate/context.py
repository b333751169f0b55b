"""What a translation collects on the way: problems and notes (grouped, one line per reason) and weight changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hatch_tfjs.neutral import Weight

# How many layers one grouped problem or note names before "and N more".
NAMED_PER_LINE = 3


class Context:
    """Problems, notes and weight replacements of one translation; the model's weights for rewrites to read."""

    def __init__(self, weights: Sequence[Weight] | None, keras_major: int) -> None:
        self.keras_major = keras_major
        self._problems: dict[str, list[str]] = {}
        self._notes: dict[str, list[str]] = {}
        self._weights = weights
        self._by_owner: dict[str, list[Any]] | None = None  # weight arrays by layer, indexed on first use
        self._replaced: dict[str, list[Weight]] = {}
        self._for_want_of_weights: set[str] = set()  # problems that only lack the weights
        self.masked: set[str] = set()  # layers TF.js will call with an Embedding or Masking mask

    def problem(self, where: str, message: str) -> None:
        self._problems.setdefault(message, []).append(where)

    def refusal(self, where: str, refusal: Exception) -> None:
        """A rewrite's refusal is a problem; one that only lacked the weights is also counted apart."""
        from hatch_tfjs.translate.rewrites import WeightsNeededError

        self.problem(where, str(refusal))
        if isinstance(refusal, WeightsNeededError):
            self._for_want_of_weights.add(str(refusal))

    def note(self, where: str, message: str) -> None:
        self._notes.setdefault(message, []).append(where)

    @property
    def problems(self) -> list[str]:
        return grouped(self._problems)

    @property
    def needs_only_weights(self) -> bool:
        """Whether every problem is a rewrite that lacked the weights (a config-only translation may then succeed
        once the weights are read)."""
        return bool(self._problems) and set(self._problems) <= self._for_want_of_weights

    @property
    def notes(self) -> list[str]:
        return grouped(self._notes)

    def layer_weights(self, layer_name: str) -> list[Any] | None:
        """The arrays of one layer's weights, in order (None when no weights were given)."""
        if self._weights is None:
            return None
        if self._by_owner is None:
            self._by_owner = {}
            for weight in self._weights:
                self._by_owner.setdefault(weight_owner(weight.name), []).append(weight.array)
        return self._by_owner.get(layer_name, [])

    def replace_weights(self, layer_name: str, weights: list[Weight]) -> None:
        self._replaced[layer_name] = weights

    def weights(self) -> list[Weight]:
        """The weights to write: each replaced layer's new weights where its old ones were, the rest unchanged."""
        out: list[Weight] = []
        placed: set[str] = set()
        for weight in self._weights or ():
            owner = weight_owner(weight.name)
            if owner not in self._replaced:
                out.append(weight)
            elif owner not in placed:
                placed.add(owner)
                out.extend(self._replaced[owner])
        for owner, weights in self._replaced.items():
            if owner not in placed:
                out.extend(weights)
        return out


def keras_major(keras_version: str | None) -> int:
    """The major version of the Keras that wrote a config (3 when unknown)."""
    head = (keras_version or "3").split(".", 1)[0]
    return int(head) if head.isdigit() else 3


def weight_owner(weight_name: str) -> str:
    """The layer a weight named ``<layer>/<weight>`` belongs to."""
    return weight_name.split("/", 1)[0]


def grouped(reasons: dict[str, list[str]]) -> list[str]:
    """One line per distinct message: ``layer 'a' (X), layer 'b' (X) and 3 more: message``."""
    lines = []
    for message, wheres in reasons.items():
        unique = list(dict.fromkeys(wheres))
        named = ", ".join(unique[:NAMED_PER_LINE])
        more = len(unique) - NAMED_PER_LINE
        lines.append(f"{named}{f' and {more} more' if more > 0 else ''}: {message}")
    return lines
