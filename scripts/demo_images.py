"""Copies a sample of Twemoji drawings into a folder for the demo, named by their labels."""
import json
import pathlib
import shutil
import sys


def twemoji_name(hexcode: str) -> str:
    code = hexcode.lower()
    if "200d" not in code:
        code = "-".join(part for part in code.split("-") if part != "fe0f")
    return code + ".svg"


def main(npm: str, out: str, count: int) -> None:
    npm_dir, out_dir = pathlib.Path(npm), pathlib.Path(out)
    en = json.loads((npm_dir / "emojibase-data/en/data.json").read_text())
    zh = {e["hexcode"]: e["label"] for e in json.loads((npm_dir / "emojibase-data/zh/data.json").read_text())}
    # An even spread over all groups, plus the entries the demo queries ask for.
    wanted = {"1F436", "1F431", "1F408", "1F415", "1F353", "1F368", "1F989"}
    step = max(1, len(en) // count)
    sample = [e for i, e in enumerate(en) if i % step == 0 or e["hexcode"] in wanted]
    picked = 0
    for entry in sample:
        svg = npm_dir / "@twemoji/svg" / twemoji_name(entry["hexcode"])
        if not svg.exists() or "/" in entry["label"]:
            continue
        # Every fifth file gets its Chinese label as the name, in a folder with a space.
        if picked % 5 == 0 and entry["hexcode"] in zh:
            target = out_dir / "中文 名字" / (zh[entry["hexcode"]] + ".svg")
        else:
            target = out_dir / (entry["label"] + ".svg")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(svg, target)
        picked += 1
    # The image query: OpenMoji's strawberry, drawn by other artists than every indexed picture.
    query = npm_dir / "openmoji/color/svg/1F353.svg"
    if query.exists():
        shutil.copyfile(query, out_dir.parent / "query-openmoji-strawberry.svg")
    print(f"demo: {picked} images in {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
