"""The Pythonic core: :class:`Model` (a CLIP model without a store) and :class:`Engine` (indexing
and search over a store), opened with :func:`open`.

Both are thread-safe: encoding, indexing and searching release the GIL, so Python threads run
them in parallel. Arrays come back as NumPy arrays that own clipdex's buffer (no copy).
"""
from __future__ import annotations

import builtins
import json
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _core
from .errors import ClosedError, InvalidInputError, NotFoundError
from .images import ImageInput, classify
from .progress import ProgressCallback, Reporter

__all__ = ["Model", "Engine", "open", "DEFAULT_MODEL", "DEFAULT_URI", "DEFAULT_COLLECTION"]

DEFAULT_MODEL = "ViT-B-32::openai"
DEFAULT_URI = "./clipdex.db"
DEFAULT_COLLECTION = "clipdex"

Descriptions = Union[Mapping[str, str], str, "os.PathLike[str]", None]


def _descriptions(descriptions: Descriptions) -> Dict[str, str]:
    """A {file name or path: text} mapping, or a JSON file holding one (seed 002's format)."""
    if descriptions is None:
        return {}
    if isinstance(descriptions, (str, os.PathLike)):
        try:
            with builtins.open(descriptions, encoding="utf-8") as f:
                loaded = json.load(f)
        except FileNotFoundError as e:
            raise NotFoundError(f"descriptions file '{os.fspath(descriptions)}' does not exist") from e
        except json.JSONDecodeError as e:
            raise InvalidInputError(
                f"descriptions file '{os.fspath(descriptions)}' is not JSON: {e}") from e
        descriptions = loaded
    if not isinstance(descriptions, Mapping):
        raise InvalidInputError("descriptions must map file names or paths to texts")
    return {os.fspath(k): str(v) for k, v in descriptions.items()}


def _texts(texts: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(texts, str):
        return [texts]
    out = list(texts)
    for text in out:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
    return out


class Model:
    """A CLIP model on the CPU, without a store: texts and images in, unit vectors out.

    ``name`` is a registry name (``"ViT-B-32::openai"``, see ``clipdex models``), an
    ``hf-hub:ORG/REPO`` name or a model folder. A missing registry model is downloaded once into
    the Hugging Face cache. ``threads=0`` uses every core.

    >>> model = clipdex.Model("models/emoji-clip-tiny-f16")
    >>> model.encode_text(["a cat", "a dog"]).shape
    (2, 64)
    """

    def __init__(self, name: str = DEFAULT_MODEL, *, threads: int = 0) -> None:
        self._embedder = _core.Embedder.open(os.fspath(name), threads)

    @property
    def name(self) -> str:
        """The model's name as a collection records it (``"dir:NAME"`` for a folder)."""
        return self._embedder.model_name

    @property
    def dim(self) -> int:
        """Floats per vector."""
        return self._embedder.dim

    @property
    def image_size(self) -> int:
        """The model's input side in pixels."""
        return self._embedder.image_size

    def encode_text(self, texts: Union[str, Sequence[str]]) -> np.ndarray:
        """Unit vectors of texts: float32 array of shape (len(texts), dim); a str is one text."""
        return self._embedder.encode_texts(_texts(texts))

    def encode_image(self, images: Union[ImageInput, Sequence[ImageInput]]) -> np.ndarray:
        """Unit vectors of images: float32 array of shape (n, dim), one row per image.

        An image is a file path, encoded bytes, a PIL image or a uint8 array (H, W[, 3|4]); a
        list of them gives one row each. URLs are not fetched here (use an Engine).
        """
        if isinstance(images, (list, tuple)):
            items = list(images)
        else:
            items = [images]
        kinds = [classify(image) for image in items]
        for kind, value in kinds:
            if kind == "url":
                raise InvalidInputError(
                    f"'{value}' is a URL: Model.encode_image takes files, bytes and pixels")
        if all(kind == "file" for kind, _ in kinds):
            return self._embedder.encode_image_files([value for _, value in kinds])
        rows = []
        for index, (kind, value) in enumerate(kinds):
            if kind == "file":
                rows.append(self._embedder.encode_image_files([value]))
            else:
                rows.append(self._embedder.encode_image_bytes([value], [f"image {index}"]))
        return np.concatenate(rows, axis=0) if len(rows) != 1 else rows[0]

    def __repr__(self) -> str:
        return f"clipdex.Model({self.name!r}, dim={self.dim})"


class Engine:
    """Indexing and search over one collection of a store. Make one with :func:`clipdex.open`.

    Every method may be called from many threads at once; searches run alongside indexing.
    ``with clipdex.open(...) as engine:`` closes it (flushing the store) at the end of the block.
    """

    def __init__(self, native: Any, uri: str, collection: str) -> None:
        self._engine = native
        self._uri = uri
        self._collection = collection
        self._closed = False
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        return self._uri

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def dim(self) -> int:
        return self._native.dim

    @property
    def model_name(self) -> str:
        return self._native.model_name

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def _native(self) -> Any:
        if self._closed:
            raise ClosedError(f"the engine on '{self._uri}' was closed: open a new one with "
                              "clipdex.open(uri)")
        return self._engine

    def close(self) -> None:
        """Flushes the store and closes the engine, releasing the store (another engine may open
        it next); later calls raise :class:`ClosedError`. Closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            native, self._engine = self._engine, None
        # Calls still running in other threads hold their own reference: the C++ engine (and
        # the store's lock) goes when the last of them returns.
        native.close()
        del native

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        engine = self._engine
        state = "closed" if engine is None else f"model={engine.model_name!r}"
        return f"clipdex.Engine({self._uri!r}, collection={self._collection!r}, {state})"

    # -- indexing ------------------------------------------------------------------------------
    def index_directory(self, directory: Union[str, "os.PathLike[str]"],
                        descriptions: Descriptions = None, *, recursive: bool = True,
                        prune: bool = False, batch_size: int = 32,
                        progress: Optional[bool] = None,
                        callback: Optional[ProgressCallback] = None) -> Dict[str, Any]:
        """Indexes the images under a folder, incrementally (unchanged files are skipped).

        ``descriptions`` maps file names or paths to texts (or names a JSON file of that map).
        ``prune=True`` removes rows whose files are gone. Returns the report: ``added``,
        ``updated``, ``unchanged``, ``failed``, ``failures`` ([{path, reason}]), ``seconds`` ...
        A bad file is reported in ``failures`` and skipped, never fatal.
        """
        reporter = Reporter("indexing", progress, callback)
        report = self._native.index_directory(
            os.fspath(directory), _descriptions(descriptions), recursive, prune, batch_size,
            reporter if reporter.active else None)
        reporter.finish(report)
        return report

    def index_images(self, paths: Sequence[Union[str, "os.PathLike[str]"]],
                     descriptions: Descriptions = None, *, batch_size: int = 32,
                     progress: Optional[bool] = None,
                     callback: Optional[ProgressCallback] = None) -> Dict[str, Any]:
        """Indexes the given image files (see :meth:`index_directory` for the report)."""
        reporter = Reporter("indexing", progress, callback)
        report = self._native.index_images(
            [os.fspath(p) for p in paths], _descriptions(descriptions), batch_size,
            reporter if reporter.active else None)
        reporter.finish(report)
        return report

    def add_image_by_url(self, id: int, url: str, description: str = "") -> None:
        """Fetches an http(s) image and stores it under ``id`` (replacing that row)."""
        self._native.add_image_by_url(int(id), url, description)

    def add_images_by_url(self, items: Sequence[Any]) -> List[Dict[str, Any]]:
        """Many ``(id, url)`` or ``(id, url, description)`` at once, fetched concurrently.
        One ``{"ok", "error", "code"}`` per item, in order; a failure does not stop the others."""
        triples = []
        for item in items:
            if isinstance(item, Mapping):
                triples.append((int(item["id"]), str(item["url"]), str(item.get("description", ""))))
            else:
                item = tuple(item)
                triples.append((int(item[0]), str(item[1]), str(item[2]) if len(item) > 2 else ""))
        return self._native.add_images_by_url(triples)

    def add_image_file(self, path: Union[str, "os.PathLike[str]"], id: Optional[int] = None,
                       description: Optional[str] = None) -> int:
        """Indexes one file as :meth:`index_images` does (its row is found by its path, so never
        a second row for one file; unchanged content is not encoded again). ``id`` puts the row
        under that id; ``description`` replaces the stored one (None keeps it). Returns the id."""
        return self._native.add_image_file(os.fspath(path), None if id is None else int(id),
                                           description)

    def add_image(self, id: int, image: ImageInput, description: str = "",
                  name: Optional[str] = None) -> None:
        """Stores one image under ``id``: a file (as :meth:`add_image_file`), an http(s) URL,
        encoded bytes, a PIL image or a uint8 array; ``name`` is the url field of an image
        given as bytes or pixels (default ``upload:ID``)."""
        kind, value = classify(image)
        if kind == "url":
            self.add_image_by_url(id, value, description)
        elif kind == "file" and name is None:
            self.add_image_file(value, id, description or None)
        else:
            if kind == "file":
                try:
                    with builtins.open(value, "rb") as f:
                        value = f.read()
                except FileNotFoundError as e:
                    raise NotFoundError(f"image file '{value}' does not exist") from e
            self._native.add_image(int(id), value, name or f"upload:{int(id)}", description)

    # -- search --------------------------------------------------------------------------------
    def search(self, text: str, top_k: int = 10, filter: Optional[str] = None) -> List[Dict[str, Any]]:
        """The ``top_k`` images closest to a text: dicts with ``id``, ``url``, ``description``,
        ``score`` (cosine similarity, higher is closer) and the row's dynamic fields. ``filter``
        is a Milvus boolean expression over the fields, e.g. ``'description like "%cat%"'``."""
        return self._native.search(text, int(top_k), filter or "")

    def search_batch(self, texts: Sequence[str], top_k: int = 10,
                     filter: Optional[str] = None) -> List[List[Dict[str, Any]]]:
        """One hit list per text (encoded as one batch)."""
        return self._native.search_batch(_texts(texts), int(top_k), filter or "")

    def search_by_image(self, image: ImageInput, top_k: int = 10,
                        filter: Optional[str] = None) -> List[Dict[str, Any]]:
        """The images closest to an image: a file path, an http(s) URL, encoded bytes, a PIL
        image or a uint8 array."""
        kind, value = classify(image)
        native = self._native
        if kind == "file":
            return native.search_by_image_file(value, int(top_k), filter or "")
        if kind == "url":
            return native.search_by_image_url(value, int(top_k), filter or "")
        return native.search_by_image_bytes(value, int(top_k), filter or "")

    def search_by_vector(self, vector: Any, top_k: int = 10,
                         filter: Optional[str] = None) -> List[Dict[str, Any]]:
        """The images closest to a unit vector of ``dim`` floats (e.g. a row of
        :meth:`Model.encode_text` for the same model)."""
        array = np.ascontiguousarray(np.asarray(vector, dtype=np.float32))
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1:
            raise InvalidInputError(
                f"the query vector must be one row of {self.dim} floats, got shape {array.shape}")
        return self._native.search_by_vector(array, int(top_k), filter or "")

    # -- rows and facts ------------------------------------------------------------------------
    def get_all_data(self, include_vectors: bool = False, limit: Optional[int] = None,
                     offset: int = 0) -> List[Dict[str, Any]]:
        """Rows in id order: ``id``, ``url``, ``description``, ``added_at``, ``updated_at``, the
        dynamic fields, and ``vector`` (a float32 array) when ``include_vectors``."""
        return self._native.get_all_data(bool(include_vectors), -1 if limit is None else int(limit),
                                         int(offset))

    def get_database_stats(self) -> Dict[str, Any]:
        """``total_records``, ``collection_name``, ``model``, ``dimension``, ``index_type``,
        ``metric_type``, ``backend``, ``uri``, ``bytes_on_disk``, ``index_state``."""
        return self._native.get_database_stats()

    def collection_info(self) -> Dict[str, Any]:
        """The collection's schema and index settings, and its row count."""
        return self._native.collection_info()

    def remove_by_id(self, id: int) -> bool:
        """Removes a row; False when no row had that id."""
        return self._native.remove_by_id(int(id))


def open(uri: Union[str, "os.PathLike[str]"] = DEFAULT_URI, *, model: str = DEFAULT_MODEL,
         collection: str = DEFAULT_COLLECTION, threads: int = 0,
         allow_private_urls: bool = False, token: Optional[str] = None,
         timeout: float = 30.0, read_only: bool = False) -> Engine:
    """Opens (creating if needed) a collection and the model that fills it.

    ``uri`` follows pymilvus: a file path is clipdex's embedded store (created on first use),
    ``http://host:19530`` / ``https://...`` a Milvus server. Other schemes are refused.
    ``allow_private_urls`` lets :meth:`Engine.add_image_by_url` fetch from loopback and private
    networks (off: a server indexing user-given URLs must not reach its own network).
    ``token`` is Milvus's API key or ``"user:password"``; ``timeout`` bounds each call to a
    Milvus server, in seconds. ``read_only=True`` opens an embedded store for reading beside
    its writer (another process, e.g. ``clipdex serve``) and creates nothing: a missing store
    or collection is :class:`NotFoundError`.
    """
    text = os.fspath(uri)
    native = _core.Engine.open(text, collection, os.fspath(model), threads, allow_private_urls,
                               token or "", float(timeout), bool(read_only))
    return Engine(native, text, collection)
