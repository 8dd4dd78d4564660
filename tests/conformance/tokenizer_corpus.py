"""A deterministic corpus for the tokenizer conformance test: hand-written edge cases, template
sentences and random samples over the Unicode blocks that matter for CLIP's tokenizer."""
import random

SEED = 20261123

# Hand-written cases: each names something the cleaning, pre-tokenizing or framing must get right.
EDGE_CASES = [
    "", " ", "   ", "\t\n\r", "\u00a0", "\u3000", "\u2028\u2029", "\u200b", "\ufeff",
    "a photo of a cat", "A Photo Of A CAT", "a photo of a dog.", "hello world!!!",
    "don't", "DON'T", "it's", "we're", "you've", "i'm", "they'll", "he'd", "'s", "''s",
    "don\u2019t", "\u2018quoted\u2019 \u201cdouble\u201d", "l\u02bcamour", "\u2019s",
    "'\u017f", "<start_of_text>", "<end_of_text>", "<START_OF_TEXT>", "a<end_of_text>b",
    "!<start_of_text>", "<\u017ftart_of_text>", "<|startoftext|>", "<|endoftext|>",
    "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&#x1F600;", "&#128512;", "&amp;amp;",
    "&amp;amp;amp;lt;", "&amp;lt;b&amp;gt;", "AT&T", "&nbsp;x", "&copy 2024", "&notit;",
    "&EACUTE;", "&Eacute;", "&eacute", "&#0;", "&#1;", "&#128;", "&#x85;", "&#xD800;",
    "&#1114112;", "&#99999999999999999999;", "&#x;", "&#;", "&;", "&abcdefghijklmnopqrstuvwxyz;",
    "<b>bold</b> &amp; more", "x < y &amp; z", "line1 &amp;\nline2 <tag>\nline3 &amp;",
    "Ã©", "cafÃ©", "Ã", "â€™", "ÐŸÑ€Ð¸Ð²ÐµÑ‚", "\u0080\u0085\u0093x\u0094\u009f",
    "caf\u00e9", "cafe\u0301", "\u0041\u030a", "\u212b", "\u1e9b\u0323", "\u00c5ngstr\u00f6m",
    "\u0130stanbul", "\u0130", "\u0049\u0307", "\u0131", "STRASSE stra\u00dfe \u1e9e",
    "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3", "\u03a3", "\u03a3\u03a3 \u03b1\u03a3 \u03b1\u03a3\u03b1",
    "\u03b1\u03a3'", "\u03b1\u03a3\u0301", "\u212a\u212b\u2126", "\u01c5\u01c8\u01cb\u01f2",
    "\ufb01\ufb02\ufb00\ufb03 \ufb05 \ufb06", "\u0132\u0133 \u0149", "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25",
    "\uff11\uff12\uff13", "\uff76\uff9e\uff8d\uff9f", "\u2160\u2161\u2162 \u216b", "\u00bd \u00b2 \u2460",
    "1234567890", "3.14159", "1,000,000", "\u0661\u0662\u0663", "\u0967\u0968", "\u4e00\u4e8c\u4e09",
    "\x1b[31mred\x1b[0m", "\x1b[1;32mbold\x1b[m", "\x1b[\u0661mX", "\x00\x01\x07\x08\x0b\x0c\x0e\x1f\x7f",
    "\u206a\u206f\ufff9\ufffc\ufffd", "a\u0345b", "\u03b1\u0345", "!\u0345!", "\u0345",
    "\U0001F600", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", "\U0001F44D\U0001F3FD",
    "\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8", "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
    "\u2764\ufe0f", "\u263a\ufe0e", "#\ufe0f\u20e3", "\U0001F9D1\U0001F3FF\u200D\U0001F9B0",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c", "\uc548\ub155\ud558\uc138\uc694",
    "\u1100\u1161\u11a8", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
    "\u05e9\u05dc\u05d5\u05dd", "\u041f\u0440\u0438\u0432\u0435\u0442 \u041c\u0418\u0420",
    "tab\there", "multi   space", "nbsp\u00a0here", "zw\u200bsp", "zwj\u200dx", "ideo\u3000space",
    "line\u2028sep", "para\u2029sep", "nel\u0085x", "cr\rlf\r\nend", "\x1c\x1d\x1e\x1fx", "\u180ex",
    "\u202f\u205f\u1680\u2000\u200a", "  leading and trailing  ",
    "a" * 300, "ab" * 200, "supercalifragilisticexpialidocious" * 5, "\U0001F600" * 100,
    " ".join(["word"] * 100), "x " * 80, "\u4e2d" * 200, "1" * 200, "!?" * 150,
    ("the quick brown fox jumps over the lazy dog " * 10).strip(),
]


def _hand_long() -> list[str]:
    long_words = "hello " * 2000
    return [long_words, "a" * 5000, "&amp;" * 400, "\n".join(["line &amp; <x>"] * 50),
            "\U0001F468\u200D\U0001F469\u200D\U0001F467 " * 60, "\u0130\u03a3 " * 100]


# Blocks to sample from: (first, last, weight).
BLOCKS = [
    (0x20, 0x7E, 30), (0xA0, 0xFF, 6), (0x100, 0x24F, 4), (0x250, 0x2FF, 1), (0x300, 0x36F, 3),
    (0x370, 0x3FF, 3), (0x400, 0x4FF, 3), (0x530, 0x58F, 1), (0x590, 0x5FF, 1), (0x600, 0x6FF, 3),
    (0x900, 0x97F, 3), (0x980, 0x9FF, 1), (0xE00, 0xE7F, 3), (0x10A0, 0x10FF, 1), (0x1100, 0x11FF, 1),
    (0x1E00, 0x1FFF, 2), (0x2000, 0x206F, 3), (0x20A0, 0x20CF, 1), (0x2100, 0x218F, 2),
    (0x2190, 0x23FF, 1), (0x2460, 0x24FF, 1), (0x2500, 0x27BF, 1), (0x3000, 0x303F, 2),
    (0x3040, 0x30FF, 4), (0x3100, 0x31FF, 1), (0x4E00, 0x9FFF, 6), (0xAC00, 0xD7A3, 4),
    (0xF900, 0xFAFF, 1), (0xFB00, 0xFB4F, 1), (0xFE00, 0xFE0F, 1), (0xFE30, 0xFE6F, 1),
    (0xFF00, 0xFFEF, 3), (0x1D400, 0x1D7FF, 1), (0x1F300, 0x1F5FF, 4), (0x1F600, 0x1F64F, 3),
    (0x1F680, 0x1F6FF, 1), (0x1F900, 0x1F9FF, 2), (0x1F1E6, 0x1F1FF, 2), (0x1F3FB, 0x1F3FF, 2),
    (0xE0020, 0xE007F, 1), (0x20000, 0x2A6DF, 1), (0x80, 0x9F, 1), (0x0, 0x1F, 1),
]
SPECIALS = ["\u200d", "\u200b", "\u00a0", "\u3000", "\t", "\n", "\u2028", "\u2029", "\u0085",
            "\ufe0f", "&amp;", "&lt;", "&#39;", "&#x1F600;", "&amp;quot;", "'s", "'t", "'re",
            "\u2019", "\u201c", "\u0130", "\u03a3", "\u1e9e", "\u00df", "\u0301", "\u0308",
            "\x1b[1m", "<", ">", " ", "  ", "\U0001F3FD", "\U0001F1FA\U0001F1F8"]
WORDS = ["photo", "cat", "dog", "Emoji", "CAFÉ", "naïve", "Zürich", "İstanbul", "ΣΟΦΙΑ",
         "东京", "日本語", "한국어", "مرحبا", "नमस्ते", "ภาษาไทย", "Straße", "don't", "It's",
         "x86_64", "2024", "3rd", "U.S.A.", "e-mail", "#hashtag", "@user", "https://x.org/a?b=1"]
TEMPLATES = ["a photo of a {}.", "a picture of the {} and {}", "{} {} {}", "an emoji of {}",
             "{}: {}!", "\u201c{}\u201d said {}", "<b>{}</b> &amp; {}", "{}\n{}", "{} &lt;3 {}"]


def _random_char(rng: random.Random) -> str:
    first, last, _ = rng.choices(BLOCKS, weights=[b[2] for b in BLOCKS])[0]
    cp = rng.randint(first, last)
    if 0xD800 <= cp <= 0xDFFF:
        cp = 0x41
    return chr(cp)


def _random_string(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.choice([1, 2, 3, 5, 8, 13, 30, 80])):
        r = rng.random()
        if r < 0.6:
            parts.append(_random_char(rng))
        elif r < 0.8:
            parts.append(rng.choice(SPECIALS))
        else:
            parts.append(rng.choice(WORDS))
    return "".join(parts)


def _template_string(rng: random.Random) -> str:
    template = rng.choice(TEMPLATES)
    words = [rng.choice(WORDS) if rng.random() < 0.7 else _random_string(rng) for _ in range(3)]
    text = template.format(*words)
    if rng.random() < 0.2:
        text = text.upper()
    if rng.random() < 0.1:
        text = text * rng.randint(5, 30)
    return text


def build_corpus(n_random: int = 10500) -> list[str]:
    rng = random.Random(SEED)
    corpus = list(EDGE_CASES) + _hand_long()
    for i in range(n_random):
        corpus.append(_template_string(rng) if i % 3 == 0 else _random_string(rng))
    return corpus


def random_byte_strings(n: int = 1000) -> list[bytes]:
    """Arbitrary bytes, mostly invalid UTF-8, decoded by the reference with errors='replace'."""
    rng = random.Random(SEED + 1)
    pieces = [b"\xc3\xa9", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xc0\xaf", b"\xe0\x80\x80",
              b"\xf4\x90\x80\x80", b"\xff", b"\x80", b"abc ", b"&amp;", b"\xef\xbb\xbf", b"\xe2\x80\x99"]
    out = []
    for _ in range(n):
        parts = [bytes([rng.randrange(256)]) if rng.random() < 0.5 else rng.choice(pieces)
                 for _ in range(rng.randint(1, 40))]
        out.append(b"".join(parts))
    return out
