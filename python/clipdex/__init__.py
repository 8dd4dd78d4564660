"""clipdex: CLIP image search with a C++ core.

Old scripts change one import::

    from clipdex import ImageSearchEngine, print_results          # was: from image_search import ...
    from clipdex import MilvusVectorDatabase, CloudVectorDatabase

New code uses the core::

    import clipdex
    model = clipdex.Model("ViT-B-32::openai")
    vectors = model.encode_text(["a dog", "a cat"])          # numpy float32 (2, 512)
    with clipdex.open("./photos.db", model="ViT-B-32::openai") as engine:
        engine.index_directory("photos/")
        for hit in engine.search("a dog in snow", top_k=5):
            print(hit["score"], hit["url"])

Errors are :class:`clipdex.Error` subclasses that are also the fitting built-ins
(``FileNotFoundError``, ``ValueError``, ``ConnectionError`` ...): see :mod:`clipdex.errors`.
"""
from ._core import __version__
from .compat import CloudVectorDatabase, ImageSearchEngine, MilvusVectorDatabase, print_results
from .core import Engine, Model, open
from .errors import (AlreadyExistsError, ClosedError, ConflictError, CorruptError, Error,
                     InternalError, InvalidInputError, IoError, NotFoundError, TooLargeError,
                     UnavailableError, UnsupportedError)

__all__ = [
    "__version__", "Model", "Engine", "open",
    "ImageSearchEngine", "MilvusVectorDatabase", "CloudVectorDatabase", "print_results",
    "Error", "InvalidInputError", "ClosedError", "NotFoundError", "AlreadyExistsError",
    "ConflictError", "IoError", "CorruptError", "TooLargeError", "UnavailableError",
    "UnsupportedError", "InternalError",
]
