"""User-facing errors: raised for bad input, caught by the CLI and printed without a traceback."""

from __future__ import annotations


class EvoforgeError(Exception):
    """An error caused by the user's input or environment, not by a bug.

    The CLI prints ``str(error)`` and exits with ``exit_code`` (no traceback).
    """

    exit_code: int = 1


class ConfigError(EvoforgeError):
    """A configuration file or option is invalid (exit code 2)."""

    exit_code = 2


class DataError(EvoforgeError):
    """An input data file is missing, empty or malformed (exit code 2)."""

    exit_code = 2


class RunDirError(EvoforgeError):
    """A run directory cannot be created or resumed as asked."""

    exit_code = 2


class BudgetExceeded(EvoforgeError):
    """The configured LLM budget (cost or tokens) was exceeded; the run stops cleanly."""

    exit_code = 3


class LLMError(EvoforgeError):
    """An LLM call failed for good (after retries and fallbacks), naming the role and model."""

    exit_code = 4


class StructuredOutputError(LLMError):
    """An LLM's answer did not match the requested schema, even after one repair request."""


class LLMTransportError(LLMError):
    """An LLM call lost to transport faults (timeouts, 429, 5xx) on every model, after every retry: the request
    itself was fine, so trying it again later may well succeed (a run keeps such rows apart as lost to errors)."""


def import_extra(module: str, extra: str, feature: str) -> object:
    """Import ``module``, which the optional ``extra`` provides for ``feature``; a clear error with the install
    command when it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{feature} needs the '{extra}' extra (module {module} is not installed): pip install 'evoforge[{extra}]'"
        ) from None
