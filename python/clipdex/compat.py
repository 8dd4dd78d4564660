"""The seeds' classes, so old scripts run with one import changed.

``ImageSearchEngine`` and ``print_results`` replace the PyTorch CLIP + pymilvus search engine
(``from image_search import ImageSearchEngine, print_results``), ``MilvusVectorDatabase`` and
``CloudVectorDatabase`` the Milvus and Faiss image databases behind the old Flask services.
Same names, same arguments, same return shapes (booleans where they returned booleans, dicts
and lists of dicts where they returned those), on top of :class:`clipdex.Engine`.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from .core import DEFAULT_COLLECTION, DEFAULT_MODEL, DEFAULT_URI, Descriptions, Engine, open
from .errors import ClosedError, Error, InvalidInputError, UnsupportedError
from .images import ImageInput
from .progress import ProgressCallback

__all__ = ["ImageSearchEngine", "MilvusVectorDatabase", "CloudVectorDatabase", "print_results"]

logger = logging.getLogger("clipdex")


def store_uri(uri: Optional[str], host: Optional[str], port: Union[int, str, None]) -> str:
    """pymilvus's rule: ``uri`` wins; else ``host``/``port`` name a Milvus server; else the
    embedded store ``./clipdex.db``."""
    if uri:
        return os.fspath(uri)
    if host:
        if "://" in host:
            return f"{host}:{port}" if port else host
        return f"http://{host}:{port or 19530}"
    return DEFAULT_URI


def _allow_private(value: Optional[bool]) -> bool:
    """None: $CLIPDEX_ALLOW_PRIVATE_URLS=1 allows (the old classes fetched any URL; this lets an
    old script reach an intranet image server without an edit)."""
    if value is None:
        return os.environ.get("CLIPDEX_ALLOW_PRIVATE_URLS", "") == "1"
    return bool(value)


def _hits(hits: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The keys the old scripts read: id, url and path (the same: a file path or a URL),
    description, score, similarity and distance (the same cosine similarity: pymilvus called
    it distance, the Milvus database similarity), rank (from 1)."""
    out = []
    for rank, hit in enumerate(hits, start=1):
        item = dict(hit)
        item["path"] = hit["url"]
        item["similarity"] = hit["score"]
        item["distance"] = hit["score"]
        item["rank"] = rank
        out.append(item)
    return out


class ImageSearchEngine:
    """Text-to-image search (seed 002's class): index folders or files, search by text or image.

    ``mode="local"`` runs the CLIP model in this process; ``mode="service"`` (a clip-as-service
    server at ``clip_server``) needs clipdex's encoder service, which this version does not have
    yet, and raises :class:`clipdex.UnsupportedError`.

    The store follows pymilvus: ``uri`` is a file path (clipdex's embedded store) or
    ``http(s)://host:19530`` (Milvus); ``milvus_host``/``milvus_port`` mean
    ``http://milvus_host:milvus_port``; with neither, ``./clipdex.db``.

    >>> engine = ImageSearchEngine(mode="local", model_name="ViT-B-32::openai",
    ...                            collection_name="my_images")
    >>> engine.index_directory("photos/")
    >>> print_results(engine.search("a cute kitten", top_k=5))
    >>> engine.close()
    """

    def __init__(self, mode: str = "local", model_name: str = DEFAULT_MODEL,
                 clip_server: Optional[str] = None, collection_name: str = DEFAULT_COLLECTION,
                 milvus_host: Optional[str] = None, milvus_port: Union[int, str] = 19530,
                 uri: Optional[str] = None, *, threads: int = 0,
                 allow_private_urls: Optional[bool] = None, progress: Optional[bool] = None,
                 callback: Optional[ProgressCallback] = None, batch_size: int = 32) -> None:
        if mode == "service":
            raise UnsupportedError(
                f"mode='service' (clip_server={clip_server!r}) needs clipdex's encoder service, "
                "which this version does not have yet: use mode='local', which runs the model in "
                "this process")
        if mode != "local":
            raise InvalidInputError(f"mode must be 'local' or 'service', got {mode!r}")
        self.mode = mode
        self.model_name = model_name
        self.collection_name = collection_name
        self.uri = store_uri(uri, milvus_host, milvus_port)
        self.progress = progress
        self.callback = callback
        self.batch_size = batch_size
        self.engine: Engine = open(self.uri, model=model_name, collection=collection_name,
                                   threads=threads,
                                   allow_private_urls=_allow_private(allow_private_urls))

    def index_directory(self, image_dir: Union[str, "os.PathLike[str]"],
                        descriptions: Descriptions = None, recursive: bool = True) -> Dict[str, Any]:
        """Indexes every image under ``image_dir`` (incrementally) and returns the report
        (``added``, ``updated``, ``unchanged``, ``failed``, ``failures``, ``seconds`` ...)."""
        return self.engine.index_directory(image_dir, descriptions, recursive=recursive,
                                           batch_size=self.batch_size, progress=self.progress,
                                           callback=self.callback)

    def index_images(self, image_paths: Sequence[Union[str, "os.PathLike[str]"]],
                     descriptions: Descriptions = None) -> Dict[str, Any]:
        """Indexes the given files; ``descriptions`` maps a file's name or path to its text."""
        return self.engine.index_images(image_paths, descriptions, batch_size=self.batch_size,
                                        progress=self.progress, callback=self.callback)

    def search(self, query: str, top_k: int = 5, filter: Optional[str] = None) -> List[Dict[str, Any]]:
        """The ``top_k`` closest images: dicts with id, path, url, description, score,
        similarity, distance and rank."""
        return _hits(self.engine.search(query, top_k, filter))

    def search_batch(self, queries: Sequence[str], top_k: int = 5,
                     filter: Optional[str] = None) -> List[List[Dict[str, Any]]]:
        """One result list (as :meth:`search`) per query."""
        return [_hits(hits) for hits in self.engine.search_batch(queries, top_k, filter)]

    def search_by_image(self, image: ImageInput, top_k: int = 5,
                        filter: Optional[str] = None) -> List[Dict[str, Any]]:
        """Images closest to an image (path, URL, bytes, PIL image or uint8 array)."""
        return _hits(self.engine.search_by_image(image, top_k, filter))

    def get_stats(self) -> Dict[str, Any]:
        """``mode``, ``model``, ``total_images``, ``collection_name``, ``dimension``,
        ``backend``, ``uri``, ``index_type``, ``metric_type``."""
        stats = self.engine.get_database_stats()
        return {"mode": self.mode, "model": self.model_name,
                "total_images": stats["total_records"],
                "collection_name": stats["collection_name"], "dimension": stats["dimension"],
                "backend": stats["backend"], "uri": stats["uri"],
                "index_type": stats["index_type"], "metric_type": stats["metric_type"]}

    def close(self) -> None:
        """Flushes and closes the store."""
        self.engine.close()

    def __enter__(self) -> "ImageSearchEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def print_results(results: Sequence[Any]) -> None:
    """Prints search results, one line per hit: rank, score, path, description. A list of
    result lists (from ``search_batch``) prints each list in turn."""
    if results and isinstance(results[0], (list, tuple)):
        for index, hits in enumerate(results, start=1):
            print(f"--- query {index} ---")
            print_results(hits)
        return
    if not results:
        print("No results")
        return
    for rank, hit in enumerate(results, start=1):
        line = f"{hit.get('rank', rank)}. [{hit.get('score', 0.0):.4f}] {hit.get('path') or hit.get('url', '')}"
        if hit.get("description"):
            line += f"  {hit['description']}"
        print(line)


class _VectorDatabase:
    """What the Milvus and the Faiss database classes shared (seed 001's migration guide)."""

    def __init__(self, uri: str, collection_name: str, model_name: str, threads: int,
                 allow_private_urls: Optional[bool]) -> None:
        self.collection_name = collection_name
        self.model_name = model_name
        self.uri = uri
        self.engine: Engine = open(uri, model=model_name, collection=collection_name,
                                   threads=threads,
                                   allow_private_urls=_allow_private(allow_private_urls))

    def add_image_by_url(self, id: int, url: str) -> bool:
        """Fetches the image at ``url`` and stores it under ``id``: True on success, False (the
        reason logged on the ``clipdex`` logger) when it could not."""
        try:
            self.engine.add_image_by_url(id, url)
            return True
        except ClosedError:
            raise
        except Error as e:
            logger.warning("add_image_by_url(%s, %s) failed: %s", id, url, e)
            return False

    def add_image(self, id: int, image: ImageInput, url: Optional[str] = None) -> bool:
        """Stores an image (bytes, path, PIL image or array) under ``id``: True or False."""
        try:
            self.engine.add_image(id, image, name=url)
            return True
        except ClosedError:
            raise
        except Error as e:
            logger.warning("add_image(%s) failed: %s", id, e)
            return False

    def get_all_data(self, include_vectors: bool = True, limit: Optional[int] = None,
                     offset: int = 0) -> List[Dict[str, Any]]:
        """Every record: ``id``, ``url``, ``added_at``, ``updated_at``, ``description`` and,
        as the old classes did by default, ``vector`` (a list of floats)."""
        rows = self.engine.get_all_data(include_vectors, limit, offset)
        for row in rows:
            if "vector" in row:
                row["vector"] = row["vector"].tolist()
        return rows

    def search_by_text(self, query_text: str, k: int = 10) -> List[Dict[str, Any]]:
        """Records closest to a text, best first: ``id``, ``url``, ``similarity`` (also
        ``score``, ``distance``), ``rank``, ``description``."""
        return _hits(self.engine.search(query_text, k))

    def search_by_image(self, image: ImageInput, k: int = 10) -> List[Dict[str, Any]]:
        """Records closest to an image (path, URL, bytes, PIL image or array)."""
        return _hits(self.engine.search_by_image(image, k))

    def get_database_stats(self) -> Dict[str, Any]:
        """``total_images`` (the old key), ``total_records``, ``collection_name``, ``model``,
        ``dimension``, ``index_type``, ``metric_type``, ``backend``, ``uri`` ..."""
        stats = dict(self.engine.get_database_stats())
        stats["total_images"] = stats["total_records"]
        stats["vector_dimension"] = stats["dimension"]
        return stats

    def collection_info(self) -> Dict[str, Any]:
        """Schema, index settings and row count."""
        return self.engine.collection_info()

    def remove_by_id(self, id: int) -> bool:
        """True when a record with ``id`` was removed, False when there was none."""
        try:
            return self.engine.remove_by_id(id)
        except ClosedError:
            raise
        except Error as e:
            logger.warning("remove_by_id(%s) failed: %s", id, e)
            return False

    def close(self) -> None:
        self.engine.close()

    def close_connection(self) -> None:
        """The Milvus class's name for :meth:`close`."""
        self.engine.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class MilvusVectorDatabase(_VectorDatabase):
    """Seed 001's Milvus image database: ``host``/``port`` (or a pymilvus ``uri``) name the
    server; ``uri`` may also be a file path for the embedded store."""

    def __init__(self, collection_name: str = "cloud_vector_collection", host: str = "localhost",
                 port: Union[int, str] = "19530", uri: Optional[str] = None,
                 model_name: str = DEFAULT_MODEL, *, threads: int = 0,
                 allow_private_urls: Optional[bool] = None) -> None:
        super().__init__(store_uri(uri, host, port), collection_name, model_name, threads,
                         allow_private_urls)


class CloudVectorDatabase(_VectorDatabase):
    """The Faiss-era image database: a local store at ``db_path`` (clipdex's embedded store)."""

    def __init__(self, db_path: Union[str, "os.PathLike[str]"] = "cloud_vector_db",
                 collection_name: str = "cloud_vector_collection",
                 model_name: str = DEFAULT_MODEL, *, threads: int = 0,
                 allow_private_urls: Optional[bool] = None) -> None:
        super().__init__(os.fspath(db_path), collection_name, model_name, threads,
                         allow_private_urls)
