"""The one exception hierarchy of Headroom.

Inside the pipeline Headroom fails open (logs, counts, passes the original through);
these exceptions reach a caller only for its own invalid arguments or an unusable setup.
"""

from __future__ import annotations


class HeadroomError(Exception):
    """Base class of every error Headroom raises on purpose."""


class ConfigurationError(HeadroomError, ValueError):
    """A configuration value is invalid; the message names the field and what is accepted."""

    def __init__(self, field: str, value: object, accepted: str) -> None:
        self.field = field
        self.value = value
        self.accepted = accepted
        super().__init__(f"invalid value {value!r} for {field}: accepted {accepted}")


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
