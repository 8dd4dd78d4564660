"""`make demo` as a newcomer runs it (issue #14, "The demo"): offline, the default model cannot be
fetched, so the demo says so in one line and the model shipped in models/ answers; its queries
find what they ask for, in English, in Chinese and by an example image."""
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_demo_runs_offline_on_the_shipped_model(build_dir, tmp_path):
    env = dict(os.environ, BUILD=str(build_dir), DEMO_WORK=str(tmp_path / "demo"),
               HF_ENDPOINT="http://127.0.0.1:9",  # nothing listens: the hub is out of reach
               HF_HUB_CACHE=str(tmp_path / "hub"))
    proc = subprocess.run([str(REPO / "scripts/demo.sh")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    notice = [line for line in out.splitlines() if "cannot be fetched" in line]
    assert len(notice) == 1 and "models/emoji-clip-tiny-f16" in notice[0], out
    assert "== model: models/emoji-clip-tiny-f16" in out

    def first_hit(query_line):
        lines = out.splitlines()
        at = lines.index(query_line)
        return lines[at + 1].split(None, 3)[3]

    assert first_hit("query: dog face").endswith("/dog face.svg"), out
    assert first_hit("query: ice cream").endswith("/ice cream.svg"), out
    assert first_hit("query: 草莓").endswith("/strawberry.svg"), out
    image_query = next(line for line in out.splitlines() if line.startswith("query: ") and line.endswith(".svg"))
    assert first_hit(image_query).endswith("/strawberry.svg"), out
    sheet = tmp_path / "demo" / "contact-sheet.png"
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The sheet shows the query picture above the hits: a strawberry's red in the query band
    # (above the grey rule), and the hits' labels below it.
    from PIL import Image
    picture = Image.open(sheet).convert("RGB")
    width, height = picture.size
    rule = next(y for y in range(height) if all(picture.getpixel((x, y)) == (160, 160, 160) for x in range(0, width, 7)))
    band = picture.crop((0, 0, width, rule))
    assert any(r > 180 and g < 120 and b < 120 for r, g, b in (band.getpixel((x, y)) for y in range(band.height) for x in range(band.width))), "no query picture above the hits"
    assert height - rule > 160, "no hits below the query band"
