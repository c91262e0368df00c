"""Domain error classes.

Every error the library raises on purpose derives from :class:`CadastreError` and carries a Chinese message for
the people who use the service (surveyors, clerks) and an English one for developers. ``str(error)`` gives both.
The HTTP layer maps these classes to RFC 9457 problem responses through one table (``api``); the CLI prints the
Chinese message and exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadastre.core.findings import Finding


#: the longest message an error carries: input a message repeats is cut (see :func:`shown`), and this is the net
#: under it
MAX_MESSAGE = 1000


def shown(value: object, limit: int = 60) -> str:
    r"""User input as an error message repeats it: at most ``limit`` characters, invisible characters written
    out, and the length said when it was cut — a message never echoes a 10 000-character input.

    >>> shown("141031001002GB00001"), shown("x" * 100, 5), shown("a\x00b")
    ('141031001002GB00001', 'xxxxx…（共 100 个字符）', 'a\\x00b')
    """
    text = str(value)
    visible = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return visible if len(text) <= limit else f"{visible}…（共 {len(text)} 个字符）"


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"


class CadastreError(Exception):
    """Base class: a problem the user can act on, explained in Chinese and English."""

    #: short machine-readable kind, used in problem ``type`` URIs and JSON output
    kind = "cadastre-error"
    #: when the same request may succeed later: after how many seconds (HTTP ``Retry-After``); None: it will not
    retry_after_s: int | None = None

    def __init__(self, message_zh: str, message_en: str | None = None, *, retry_after_s: float | None = None,
                 **details: Any) -> None:
        self.message_zh = _bounded(message_zh)
        self.message_en = _bounded(message_en or message_zh)
        if retry_after_s is not None:
            self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.details = details
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.message_en and self.message_en != self.message_zh:
            return f"{self.message_zh} ({self.message_en})"
        return self.message_zh


class CodeError(CadastreError, ValueError):
    """A 宗地代码 or 不动产单元代码 is malformed; the message names the position and the reason."""

    kind = "invalid-code"

    def __init__(self, message_zh: str, message_en: str, *, text: str, position: int | None = None) -> None:
        super().__init__(message_zh, message_en, text=text, position=position)
        self.text = text
        self.position = position


class ConfigError(CadastreError):
    """Settings are missing or wrong: unknown county, unreadable rules file, conflicting registry set-up."""

    kind = "configuration"


class DatabaseError(CadastreError):
    """The database cannot be reached, is not initialised, or belongs to another registry."""

    kind = "database"


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached now (stopped, restarting, the network, too many connections, busy): the same
    request may succeed a little later. The service answers 503 with ``Retry-After`` and recovers by itself."""

    kind = "database-unavailable"
    retry_after_s = 5


class StorageFull(DatabaseError):
    """The disk under the database or the originals store is full: nothing was saved."""

    kind = "storage-full"


class CorruptOriginal(DatabaseError):
    """A stored original is missing or its bytes no longer match their SHA-256: it is not served."""

    kind = "corrupt-original"


class NotFoundError(CadastreError, LookupError):
    """A parcel, unit, package … that was asked for does not exist."""

    kind = "not-found"


class Gone(NotFoundError):
    """What was asked for existed and was deleted on purpose (the bytes of a refused upload, after their
    retention period)."""

    kind = "gone"


class QuotaExceeded(CadastreError):
    """An account's upload quota for the last 24 hours is used up; ``retry_after_s``: when enough of it frees."""

    kind = "quota-exceeded"


class ConflictError(CadastreError):
    """The request contradicts what is recorded: a finding already waived, a package already processed."""

    kind = "conflict"


class AuthenticationError(CadastreError):
    """No valid credentials: a missing, unknown, expired or revoked token, or a wrong name or password."""

    kind = "unauthenticated"


class TooManyAttempts(AuthenticationError):
    """Sign-ins refused for a while after repeated failures (per account and per client address): try again after
    ``retry_after_s`` seconds."""

    kind = "too-many-attempts"


class PermissionDenied(CadastreError):
    """Valid credentials whose role may not do this."""

    kind = "forbidden"


class AllocationError(CadastreError):
    """A code cannot be allocated: its number range is exhausted, or the scope is invalid."""

    kind = "allocation"


class InputError(CadastreError):
    """Uploaded or imported data cannot be read with certainty (file, layer, feature and problem named)."""

    kind = "input"


class UnsafeArchiveError(InputError):
    """An archive was refused before extraction: path traversal, links, encryption, size or ratio limits."""

    kind = "unsafe-archive"


class FindingsError(InputError):
    """Input was read but breaks rules that forbid accepting it; ``findings`` lists every problem."""

    kind = "rejected"

    def __init__(self, message_zh: str, message_en: str, findings: Sequence[Finding]) -> None:
        super().__init__(message_zh, message_en)
        self.findings = list(findings)


class ZoningError(FindingsError):
    """Cadastral zoning (地籍区/地籍子区) refused: overlaps, containment, bad or duplicate codes."""

    kind = "invalid-zoning"
