"""One engine, many Python threads: 8 threads search while one indexes; nothing is lost, nothing
deadlocks, and the GIL is released while C++ works (Python keeps running beside it)."""


def test_eight_searchers_while_one_indexes(py, emoji_model, twemoji_folder):
    first = twemoji_folder("threads-first", first=20, extra=("1f431.svg",))
    second = twemoji_folder("threads-second", first=120)
    out = py.json(f"""
        import clipdex, json, threading, time
        engine = clipdex.open("store.db", model={str(emoji_model)!r}, threads=2)
        engine.index_directory({str(first)!r}, progress=False)
        stop = threading.Event()
        counts, errors, tops = [0] * 8, [], set()

        def searcher(i):
            try:
                while not stop.is_set():
                    hits = engine.search("cat", top_k=3)
                    tops.add(hits[0]["url"].rsplit("/", 1)[-1])
                    counts[i] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=searcher, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        report = engine.index_directory({str(second)!r}, progress=False)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        alive = [t.is_alive() for t in threads]
        total = engine.get_database_stats()["total_records"]

        # The GIL is off during a C++ call: a Python loop in this thread runs meanwhile.
        spins = 0
        done = threading.Event()
        worker = threading.Thread(target=lambda: (engine.search_batch(["cat"] * 256, top_k=5), done.set()))
        worker.start()
        while not done.is_set():
            spins += 1
        worker.join()
        engine.close()
        print(json.dumps({{"counts": counts, "errors": errors, "alive": alive, "report": report,
                          "total": total, "spins": spins, "tops": sorted(tops)}}))
    """, timeout=900)
    assert out["errors"] == [] and not any(out["alive"])
    assert all(count > 0 for count in out["counts"]), out["counts"]
    assert out["report"]["added"] == 120 and out["report"]["failed"] == 0
    assert out["total"] == 141  # nothing lost
    assert "1f431.svg" in out["tops"]
    assert out["spins"] > 1000, out["spins"]
