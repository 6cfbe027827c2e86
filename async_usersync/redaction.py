"""Keeps secrets out of every log record.

Whoever reads a secret registers it here (``config.secrets`` does so for every secret it
returns). ``SecretRedactor`` then replaces each registered value, and the forms it takes once
URL- or JSON-encoded, in a record's message, exception text, stack and ``extra=`` fields. The
record is changed in place, so handlers further up the logger tree never see the value either.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "********"
MIN_MASKED_LENGTH = 4
"""Shorter values are not masked: masking "s" would mask every s in the log. Such a secret is
guessable anyway; ``config.secrets`` warns about it."""

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_STANDARD_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    """Adds ``value`` (and its encoded forms) to what every log record is cleaned of."""
    global _pattern
    if not value or len(value) < MIN_MASKED_LENGTH:
        return
    forms = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
    # A multi-line secret (a private key) may be shown one line at a time.
    forms.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 8)
    with _lock:
        _secrets.update(form for form in forms if form)
        # Longest first, so a secret that contains another is masked whole.
        _pattern = re.compile("|".join(re.escape(form) for form in sorted(_secrets, key=len, reverse=True)))


def forget_secrets() -> None:
    """Empties the registry (for tests and for a process that runs several configs)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by a mask."""
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None and text else text


class SecretRedactor(logging.Filter):
    """A filter that cleans a record in place and always lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Masks every registered secret in ``record``, in place; always True."""
        if _pattern is None:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_RECORD_FIELDS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True
