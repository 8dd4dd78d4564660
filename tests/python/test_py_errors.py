"""Bad input raises the right exception with a clear message, and nothing stored is lost."""


def test_bad_inputs_raise_the_right_exceptions(py, emoji_model, twemoji_folder):
    folder = twemoji_folder("errors", first=12)
    out = py.json(f"""
        import clipdex, json, numpy as np
        (open("broken.png", "wb")).write(b"\\x89PNG\\r\\n\\x1a\\n not really a png")
        engine = clipdex.open("store.db", model={str(emoji_model)!r})
        engine.index_directory({str(folder)!r}, progress=False)
        before = engine.get_database_stats()["total_records"]
        seen = {{}}

        def expect(name, fn, *builtins):
            try:
                fn()
            except clipdex.Error as e:
                seen[name] = [type(e).__name__, str(e), all(isinstance(e, b) for b in builtins)]
            else:
                seen[name] = ["no exception"]

        expect("missing", lambda: engine.search_by_image("no/such.png"), FileNotFoundError)
        expect("missing_add", lambda: engine.add_image(9, "no/such.png"), FileNotFoundError)
        expect("broken", lambda: engine.search_by_image("broken.png"), ValueError)
        expect("broken_bytes", lambda: engine.add_image(9, b"\\x89PNG\\r\\n\\x1a\\n" + bytes(40)), ValueError)
        expect("dim", lambda: engine.search_by_vector(np.ones(7, np.float32)), ValueError)
        expect("top_k", lambda: engine.search("cat", top_k=0), ValueError)
        expect("uri", lambda: clipdex.open("grpc://localhost:19530", model={str(emoji_model)!r}), ValueError)
        expect("milvus_down", lambda: clipdex.open("http://127.0.0.1:9", model={str(emoji_model)!r}, timeout=5), ConnectionError)
        expect("model", lambda: clipdex.Model("no/such/model-dir"), FileNotFoundError)
        after = engine.get_database_stats()["total_records"]
        with clipdex.open("store.db", model={str(emoji_model)!r}, read_only=True) as reader:
            beside = reader.search("cat", top_k=3)   # a reader beside the writer
        expect("writer", lambda: clipdex.open("store.db", model={str(emoji_model)!r}), RuntimeError)
        expect("read_only_missing", lambda: clipdex.open("none.db", model={str(emoji_model)!r}, read_only=True),
               FileNotFoundError)
        engine.close()
        expect("closed", lambda: engine.search("cat"), ValueError)
        engine.close()   # twice is harmless
        with clipdex.open("store.db", model={str(emoji_model)!r}) as again:
            reopened = again.get_database_stats()["total_records"]
        print(json.dumps({{"seen": seen, "before": before, "after": after, "reopened": reopened,
                          "beside": len(beside)}}))
    """)
    seen = out["seen"]
    for name, (cls, words) in {
        "missing": ("NotFoundError", "no/such.png"),
        "missing_add": ("NotFoundError", "no/such.png"),
        "broken": ("CorruptError", "broken.png"),
        "broken_bytes": ("CorruptError", ""),
        "dim": ("InvalidInputError", "has 7 floats"),
        "top_k": ("InvalidInputError", "top_k"),
        "uri": ("InvalidInputError", "unknown scheme 'grpc'"),
        "milvus_down": ("UnavailableError", "127.0.0.1:9"),
        "model": ("NotFoundError", "no/such/model-dir"),
        "closed": ("ClosedError", "clipdex.open"),
        "writer": ("ConflictError", "store.db"),
        "read_only_missing": ("NotFoundError", "none.db"),
    }.items():
        assert seen[name][0] == cls, (name, seen[name])
        assert words in seen[name][1], (name, seen[name])
        assert seen[name][2] is True, (name, "not an instance of the built-in", seen[name])
    assert out["before"] == out["after"] == out["reopened"] == 12
    assert out["beside"] == 3
