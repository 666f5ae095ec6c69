"""The one exception hierarchy of Headroom.

Inside the pipeline Headroom fails open (logs, counts, passes the original through);
these exceptions reach a caller only for its own invalid arguments or an unusable setup.
Their messages are one sentence a user can act on: what was wrong and what is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BudgetExceededError",
    "CompressionError",
    "ConfigurationError",
    "HeadroomError",
    "InvalidArgumentError",
    "RetrievalError",
    "StoreError",
]

_MAX_VALUE_CHARS = 80


class HeadroomError(Exception):
    """Base class of every error Headroom raises on purpose."""


def _short(value: object) -> str:
    """``repr(value)``, cut to a length that keeps the message one readable line."""
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


class ConfigurationError(HeadroomError, ValueError):
    """A configuration value is invalid; the message names the field, the bad value and what is accepted.

    ``field`` is the full dotted name (``HeadroomConfig.smart_crusher.max_items_after_crush``,
    ``HEADROOM_PORT``, ``headroom_keep_turns``), ``value`` the value given, ``accepted`` what the
    field takes. For a name that does not exist (:meth:`unknown_name`) ``value`` is that name,
    ``accepted`` lists the valid names and ``suggestion`` is the nearest of them, if any.

        >>> str(ConfigurationError("HEADROOM_PORT", "abc", "an integer >= 1"))
        "invalid value 'abc' for HEADROOM_PORT: expected an integer >= 1"
    """

    def __init__(
        self,
        field: str,
        value: object,
        accepted: str,
        *,
        owner: str | None = None,
        unknown: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.accepted = accepted
        self.owner = owner
        """The configuration model whose name starts ``field``, when a model raised it (used to re-root the path)."""
        self.unknown = unknown
        """For an unknown name: what kind of name it is (``field``, ``per-request override``, ...)."""
        self.suggestion = suggestion
        super().__init__(self._sentence())

    @classmethod
    def unknown_name(
        cls,
        container: str,
        name: str,
        valid: Sequence[str],
        *,
        kind: str = "field",
        owner: str | None = None,
        shared_prefix: str = "",
    ) -> ConfigurationError:
        """``name`` is not one of ``valid`` in ``container``: the message offers the nearest valid name.

        ``shared_prefix`` (``headroom_``) is left out when comparing, so it does not make every name look near.
        """
        import difflib

        stems = {v.removeprefix(shared_prefix): v for v in valid}
        matches = difflib.get_close_matches(name.removeprefix(shared_prefix), list(stems), n=1, cutoff=0.6)
        return cls(
            f"{container}.{name}" if container else name,
            name,
            ", ".join(valid),
            owner=owner,
            unknown=kind,
            suggestion=stems[matches[0]] if matches else None,
        )

    def rooted_at(self, prefix: str, owner: str | None = None) -> ConfigurationError:
        """The same error with its model's name replaced by ``prefix``, the path to it from ``owner``.

        ``owner`` is the model ``prefix`` starts with, when an outer model may root it again; None
        when the path is complete.
        """
        if self.owner is None or not self.field.startswith(self.owner):
            return self
        return ConfigurationError(
            prefix + self.field[len(self.owner) :],
            self.value,
            self.accepted,
            owner=owner,
            unknown=self.unknown,
            suggestion=self.suggestion,
        )

    def _sentence(self) -> str:
        if self.unknown is None:
            return f"invalid value {_short(self.value)} for {self.field}: expected {self.accepted}"
        container, _, _ = self.field.rpartition(".")
        where = f" of {container}" if container else ""
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else "."
        return f"unknown {self.unknown} {self.value!r}{where}{hint} Valid {self.unknown}s: {self.accepted}."

    def __reduce__(self) -> tuple[object, ...]:  # keep the keyword fields through pickling (multiprocessing)
        return (_rebuild_configuration_error, (self.field, self.value, self.accepted, self.owner, self.unknown,
                                               self.suggestion))  # fmt: skip


def _rebuild_configuration_error(
    field: str, value: object, accepted: str, owner: str | None, unknown: str | None, suggestion: str | None
) -> ConfigurationError:
    return ConfigurationError(field, value, accepted, owner=owner, unknown=unknown, suggestion=suggestion)


class InvalidArgumentError(HeadroomError, ValueError):
    """A caller passed an argument Headroom cannot work with (wrong type or shape)."""


class StoreError(HeadroomError):
    """The CCR / metrics store cannot be opened or written."""


class RetrievalError(HeadroomError, KeyError):
    """A CCR key is unknown, expired or evicted."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else "unknown CCR key"


class CompressionError(HeadroomError):
    """Internal failure of a compressor; never escapes the pipeline (it fails open)."""


class BudgetExceededError(HeadroomError):
    """The daily budget set with HEADROOM_BUDGET is spent."""
