"""clipdex's exceptions.

Every error the C++ core reports arrives as a subclass of :class:`clipdex.Error` carrying the
same message the ``clipdex`` command prints. Each subclass also derives from the built-in
exception that fits, so code written against the built-ins keeps working::

    try:
        engine.search_by_image("missing.png")
    except FileNotFoundError as e:      # clipdex.NotFoundError is one
        print(e)

=====================  ===========================  =====================
code                   class                        also a
=====================  ===========================  =====================
``invalid_input``      :class:`InvalidInputError`   ``ValueError``
``not_found``          :class:`NotFoundError`       ``FileNotFoundError``
``already_exists``     :class:`AlreadyExistsError`  ``FileExistsError``
``conflict``           :class:`ConflictError`       ``RuntimeError``
``io``                 :class:`IoError`             ``OSError``
``corrupt``            :class:`CorruptError`        ``ValueError``
``too_large``          :class:`TooLargeError`       ``ValueError``
``unavailable``        :class:`UnavailableError`    ``ConnectionError``
``unsupported``        :class:`UnsupportedError`    ``NotImplementedError``
``internal``           :class:`InternalError`       ``RuntimeError``
=====================  ===========================  =====================
"""
from __future__ import annotations

from typing import Dict, Type

__all__ = [
    "Error", "InvalidInputError", "NotFoundError", "AlreadyExistsError", "ConflictError",
    "IoError", "CorruptError", "TooLargeError", "UnavailableError", "UnsupportedError",
    "InternalError", "ClosedError", "class_for_code",
]


class Error(Exception):
    """Base class of every clipdex error. ``code`` is the CLI's and HTTP API's name for it."""

    code = "internal"


class InvalidInputError(Error, ValueError):
    """The input is malformed or out of range (a bad URI, a wrong-length vector, top_k <= 0)."""

    code = "invalid_input"


class ClosedError(InvalidInputError):
    """The engine was closed; open a new one with :func:`clipdex.open`."""


class NotFoundError(Error, FileNotFoundError):
    """A named thing does not exist: a file, a folder, a model, a collection, a URL (404)."""

    code = "not_found"


class AlreadyExistsError(Error, FileExistsError):
    """Creating something that exists."""

    code = "already_exists"


class ConflictError(Error, RuntimeError):
    """Refused because of state held elsewhere: another writer, a collection of another model."""

    code = "conflict"


class IoError(Error, OSError):
    """The operating system failed a read or a write."""

    code = "io"


class CorruptError(Error, ValueError):
    """The bytes are damaged or not what they claim (a broken image, a damaged model file)."""

    code = "corrupt"


class TooLargeError(Error, ValueError):
    """A size or pixel limit was exceeded."""

    code = "too_large"


class UnavailableError(Error, ConnectionError):
    """A server or network peer is unreachable or busy; the same call may succeed later."""

    code = "unavailable"


class UnsupportedError(Error, NotImplementedError):
    """Valid input that this build or backend does not handle."""

    code = "unsupported"


class InternalError(Error, RuntimeError):
    """A bug in clipdex: please report it with the message."""

    code = "internal"


_BY_CODE: Dict[str, Type[Error]] = {
    cls.code: cls
    for cls in (InvalidInputError, NotFoundError, AlreadyExistsError, ConflictError, IoError,
                CorruptError, TooLargeError, UnavailableError, UnsupportedError, InternalError)
}


def class_for_code(code: str) -> Type[Error]:
    """The exception class for an error code name such as ``"not_found"`` (the C++ core calls this)."""
    return _BY_CODE.get(code, InternalError)
