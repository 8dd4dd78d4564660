"""The installed package: what pip put where, help texts and stubs, embeddings equal to
`clipdex embed` bit for bit, zero-copy arrays, the progress callback, context managers."""
import json
import pathlib
import subprocess

import numpy as np

CAT, DOG, HEART = "1f431.svg", "1f436.svg", "2764.svg"


def test_installed_from_the_checkout_into_the_venv(py, venv_python):
    out = py.json("""
        import clipdex, json, os, pathlib, sysconfig
        pkg = pathlib.Path(clipdex.__file__).parent
        print(json.dumps({"pkg": str(pkg), "site": sysconfig.get_paths()["purelib"],
                          "platsite": sysconfig.get_paths()["platlib"],
                          "files": sorted(p.name for p in pkg.iterdir()),
                          "version": clipdex.__version__,
                          "worker_x": os.access(pkg / "clipdex-svg-worker", os.X_OK)}))
    """)
    assert out["pkg"].startswith(out["platsite"]) or out["pkg"].startswith(out["site"]), out
    assert str(venv_python.parent.parent) in out["pkg"]
    files = out["files"]
    assert any(f.startswith("_core.") and f.endswith(".so") for f in files), files
    assert "libclipdex.so.0.1" in files and out["worker_x"], files
    assert {"__init__.py", "compat.py", "core.py", "errors.py", "_core.pyi", "py.typed"} <= set(files)
    assert out["version"] == "0.1.0"


def test_help_reads_well(py):
    text = py.run("""
        import clipdex
        help(clipdex.ImageSearchEngine)
        help(clipdex.Engine.search)
        help(clipdex.open)
    """).stdout
    assert "Text-to-image search" in text and "index_directory" in text and "search_batch" in text
    assert "milvus_host" in text and "mode=\"service\"" in text
    assert "Milvus boolean expression" in text and "follows pymilvus" in text


def embed_cli(build_dir, model, args):
    proc = subprocess.run([str(build_dir / "clipdex"), "--model", str(model), "embed", *args, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [np.array(item["embedding"], dtype=np.float32) for item in json.loads(proc.stdout)["items"]]


def test_embeddings_equal_clipdex_embed_bit_for_bit(py, build_dir, emoji_model, twemoji_folder):
    folder = twemoji_folder("embed", extra=(CAT, DOG))
    texts = ["a cat", "a red heart", "猫"]
    images = [str(folder / CAT), str(folder / DOG)]
    cli = embed_cli(build_dir, emoji_model, [a for t in texts for a in ("--text", t)]
                    + [a for i in images for a in ("--image", i)])
    out = py.run(f"""
        import clipdex, numpy as np
        model = clipdex.Model({str(emoji_model)!r})
        rows = [model.encode_text([t])[0] for t in {texts!r}]
        rows += [model.encode_image(p)[0] for p in {images!r}]
        rows.append(model.encode_image(open({images[0]!r}, "rb").read())[0])   # bytes
        both = model.encode_text({texts!r})
        assert both.dtype == np.float32 and both.shape == (3, model.dim), both.shape
        np.save("rows.npy", np.stack(rows))
    """)
    rows = np.load(py.workdir / "rows.npy")
    for got, want in zip(rows, cli + [cli[3]]):
        assert got.tobytes() == want.tobytes()


def test_arrays_are_zero_copy_and_own_their_memory(py, emoji_model):
    py.run(f"""
        import clipdex, gc, numpy as np
        model = clipdex.Model({str(emoji_model)!r})
        a = model.encode_text(["a", "b"])
        assert a.flags["C_CONTIGUOUS"] and not a.flags["OWNDATA"] and a.base is not None
        b = np.asarray(a)
        assert np.shares_memory(a, b)
        del model; gc.collect()
        assert abs(float(np.linalg.norm(b[0])) - 1.0) < 1e-5   # the buffer outlives the model
    """)


def test_progress_callback_context_manager_and_search_by_vector(py, emoji_model, twemoji_folder):
    folder = twemoji_folder("progress", first=30, extra=(CAT, HEART))
    out = py.json(f"""
        import clipdex, json
        updates = []
        with clipdex.open("store.db", model={str(emoji_model)!r}) as engine:
            report = engine.index_directory({str(folder)!r}, progress=False, callback=updates.append)
            model = clipdex.Model({str(emoji_model)!r})
            by_vector = engine.search_by_vector(model.encode_text("red heart")[0], top_k=3)
            by_text = engine.search("red heart", top_k=3)
            rows = engine.get_all_data(include_vectors=True, limit=2)
            cat_id = engine.add_image_file({str(folder / CAT)!r})
            again = engine.add_image_file({str(folder / CAT)!r}, description="a cat")
            count = engine.get_database_stats()["total_records"]
            described = [r["description"] for r in engine.get_all_data() if r["id"] == cat_id]
        print(json.dumps({{"report": report, "updates": updates[-1:], "n": len(updates),
                          "closed": engine.closed, "by_vector": by_vector, "by_text": by_text,
                          "vector_shape": list(rows[0]["vector"].shape), "dim": model.dim,
                          "same_id": cat_id == again, "count": count, "described": described}}))
    """)
    assert out["report"]["added"] == 32 and out["report"]["failed"] == 0
    assert out["n"] >= 1 and out["updates"][0]["done"] == 32
    assert out["closed"] is True
    assert out["by_vector"] == out["by_text"] and out["by_text"][0]["url"].endswith(HEART)
    assert out["vector_shape"] == [out["dim"]]
    assert out["same_id"] and out["count"] == 32 and out["described"] == ["a cat"]  # no second row


def test_progress_bar_on_a_terminal(py, emoji_model, twemoji_folder):
    folder = twemoji_folder("bar", first=10)
    proc = py.run(f"""
        import clipdex
        engine = clipdex.open("s.db", model={str(emoji_model)!r})
        engine.index_directory({str(folder)!r}, progress=True)
        engine.index_directory({str(folder)!r}, progress=False)
        engine.close()
    """)
    assert proc.stderr.count("indexing 100%|") == 1 and "10/10" in proc.stderr, proc.stderr


def test_service_mode_is_refused_clearly(py):
    proc = py.run("""
        from clipdex import ImageSearchEngine
        ImageSearchEngine(mode='service', clip_server='grpc://localhost:51000', collection_name='x')
    """, check=False)
    assert proc.returncode != 0
    assert "clipdex.errors.UnsupportedError" in proc.stderr and "use mode='local'" in proc.stderr


def test_embeddings_match_open_clip(py, emoji_model, tmp_path):
    """The installed package against the reference implementation (open_clip in the test
    runner's own environment), tokenizer and image pipeline included."""
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "conformance"))
    import open_clip
    import test_model_support as support
    import torch
    from PIL import Image

    texts = ["dog face", "red heart emoji", "an emoji of a grinning cat", "狗脸"]
    image = tmp_path / "grin.png"
    pixels = support.real_looking_pixels(1, 64)[0].transpose(1, 2, 0).clip(0, 1) * 255
    Image.fromarray(pixels.astype(np.uint8)).save(image)
    py.run(f"""
        import clipdex, numpy as np
        model = clipdex.Model({str(emoji_model)!r})
        np.save("texts.npy", model.encode_text({texts!r}))
        np.save("image.npy", model.encode_image({str(image)!r}))
    """)
    model = support.load_open_clip(emoji_model)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    transform = open_clip.image_transform(64, is_train=False, mean=support.OPENAI_MEAN, std=support.OPENAI_STD)
    with torch.no_grad():
        want_t = model.encode_text(tokenizer(texts), normalize=True).numpy()
        want_i = model.encode_image(transform(Image.open(image)).unsqueeze(0), normalize=True).numpy()
    for got, want in ((np.load(py.workdir / "texts.npy"), want_t), (np.load(py.workdir / "image.npy"), want_i)):
        cos = (got * want).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        assert cos.min() >= 0.9999, cos
