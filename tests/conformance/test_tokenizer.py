"""clipdex's CLIP tokenizer against open_clip 3.3's (the reference) on a generated corpus.

One process call of tests/tools/clipdex_tokenize tokenizes the whole corpus; the reference is
open_clip.get_tokenizer('ViT-B-32') (SimpleTokenizer, clean='lower'). Strings whose reference
result depends on ftfy's mojibake repair (fix_encoding), which clipdex does not reproduce, are
excluded and counted: ftfy.fix_text(s) != ftfy.fix_text(s, fix_encoding=False).
"""
import json
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from tokenizer_corpus import build_corpus, random_byte_strings  # noqa: E402

import open_clip
import ftfy


@pytest.fixture(scope="module")
def tool(build_dir):
    for candidate in (build_dir / "clipdex_tokenize", build_dir / "tests" / "clipdex_tokenize"):
        if candidate.exists():
            return candidate
    pytest.fail(f"clipdex_tokenize not built in {build_dir}")


@pytest.fixture(scope="module")
def reference():
    return open_clip.get_tokenizer("ViT-B-32")


@pytest.fixture(scope="module")
def gz_path(shared_dir):
    return shared_dir / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz"


def run_tool(tool, tmp_path, model_args, mode, items, context_length=77):
    src, dst = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(items))
    subprocess.run([str(tool), *model_args, mode, str(src), str(dst), str(context_length)],
                   check=True, timeout=300)
    return json.loads(dst.read_text())


def needs_mojibake_repair(text: str) -> bool:
    return ftfy.fix_text(text) != ftfy.fix_text(text, fix_encoding=False)


def compare(ours, reference_ids, corpus, label):
    mismatches = [(s, o, r) for s, o, r in zip(corpus, ours, reference_ids) if o != r]
    print(f"{label}: {len(corpus) - len(mismatches)} / {len(corpus)} identical")
    for s, o, r in mismatches[:10]:
        print("MISMATCH", ascii(s)[:200], "\n  ours", o[:20], "\n  ref ", r[:20])
    assert not mismatches


@pytest.fixture(scope="module")
def corpus_split():
    corpus = build_corpus()
    kept = [s for s in corpus if not needs_mojibake_repair(s)]
    excluded = [s for s in corpus if needs_mojibake_repair(s)]
    print(f"corpus: {len(corpus)} strings, {len(excluded)} excluded (ftfy mojibake repair)")
    return kept, excluded


@pytest.mark.parametrize("form", ["gz", "hf"])
def test_corpus_matches_open_clip(tool, tmp_path, reference, gz_path, emoji_model_dir, corpus_split, form):
    kept, excluded = corpus_split
    assert len(kept) >= 10000
    args = ["gz", str(gz_path)] if form == "gz" else \
        ["hf", str(emoji_model_dir / "vocab.json"), str(emoji_model_dir / "merges.txt")]
    t0 = time.time()
    ours = run_tool(tool, tmp_path, args, "tokenize", kept)
    t1 = time.time()
    ref = reference(kept).tolist()
    t2 = time.time()
    print(f"clipdex {t1 - t0:.2f}s (process), open_clip {t2 - t1:.2f}s for {len(kept)} strings")
    compare(ours, ref, kept, f"{form} 77-token framing")


def test_exclusions_are_few(corpus_split):
    """Under 1% of the corpus is excluded, all by the mojibake rule above (see corpus_split)."""
    kept, excluded = corpus_split
    assert len(excluded) < 0.01 * (len(kept) + len(excluded))


def test_unframed_encode_long_texts(tool, tmp_path, reference, gz_path, corpus_split):
    kept, _ = corpus_split
    long_texts = [s for s in kept if len(s) > 200][:300]
    ours = run_tool(tool, tmp_path, ["gz", str(gz_path)], "encode", long_texts)
    ref = [reference.encode(reference.clean_fn(s)) for s in long_texts]
    compare(ours, ref, long_texts, "encode (no truncation)")


@pytest.mark.parametrize("context_length", [1, 2, 5, 16, 77, 200])
def test_context_lengths(tool, tmp_path, reference, gz_path, context_length):
    corpus = build_corpus(n_random=300)
    corpus = [s for s in corpus if not needs_mojibake_repair(s)]
    ours = run_tool(tool, tmp_path, ["gz", str(gz_path)], "tokenize", corpus, context_length)
    if context_length == 1:  # open_clip itself handles 1 (result [eot]); keep checking it
        ref = [reference([s], context_length=1)[0].tolist() for s in corpus]
    else:
        ref = reference(corpus, context_length=context_length).tolist()
    compare(ours, ref, corpus, f"context_length={context_length}")


def test_invalid_utf8_reads_as_replacement(tool, tmp_path, reference, gz_path):
    blobs = random_byte_strings()
    texts = [b.decode("utf-8", errors="replace") for b in blobs]
    keep = [i for i, t in enumerate(texts) if not needs_mojibake_repair(t)]
    ours = run_tool(tool, tmp_path, ["gz", str(gz_path)], "tokenize", [list(blobs[i]) for i in keep])
    ref = reference([texts[i] for i in keep]).tolist()
    print(f"byte strings: {len(keep)} of {len(blobs)} kept (others need ftfy mojibake repair)")
    compare(ours, ref, [texts[i] for i in keep], "invalid UTF-8")


def test_every_code_point_class_and_lowercase(tool, tmp_path):
    """Pre-tokenizer class and lower-casing of every code point against Python (regex module,
    str.lower). Differences are only allowed for code points that Python 3.11's Unicode 14
    database or ICU's does not assign (the `regex` module carries a newer Unicode than both)."""
    import regex
    import unicodedata
    out = tmp_path / "classes.txt"
    subprocess.run([str(tool), "classes", "0", "10FFFF", str(out)], check=True, timeout=300)
    letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    bad_class, bad_lower, unassigned = [], [], 0
    for line in out.read_text().splitlines():
        fields = line.split()
        cp, cls, lower = int(fields[0], 16), fields[1], "".join(chr(int(x, 16)) for x in fields[2:])
        ch = chr(cp)
        if ch.isspace():
            expect = "S"
        elif letter.match(ch):
            expect = "L"
        elif number.match(ch):
            expect = "N"
        elif other.match(ch):
            expect = "O"
        else:
            expect = "D"
        new_in_python = unicodedata.category(ch) == "Cn"
        if cls != expect:
            if new_in_python or cls == "O":
                unassigned += 1
            else:
                bad_class.append((hex(cp), cls, expect))
        if lower != ch.lower() and not new_in_python:
            bad_lower.append((hex(cp), ascii(lower), ascii(ch.lower())))
    print(f"code points classified differently because of Unicode versions: {unassigned}")
    assert not bad_class, bad_class[:20]
    assert not bad_lower, bad_lower[:20]


def test_speed_against_open_clip(tool, reference, gz_path):
    text = ("a photograph of a small brown dog running across a green field of grass next to "
            "a red barn under a blue sky with white clouds, taken with a wide angle lens at "
            "sunset in the countryside of southern england during the summer of twenty twenty, "
            "with two children and their grandmother watching from a wooden bench nearby "
            "while an old tractor rests beside the gate")
    n_tokens = len(reference.encode(reference.clean_fn(text)))
    reference([text])
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        reference([text])
    python_us = (time.perf_counter() - t0) / n * 1e6
    ours_us = float(subprocess.run([str(tool), "bench", "gz", str(gz_path), text, str(n * 10)],
                                   check=True, capture_output=True, text=True).stdout)
    print(f"{n_tokens}-token text: clipdex {ours_us:.1f} us, open_clip {python_us:.1f} us")
    assert ours_us < python_us
