#!/usr/bin/env bash
# The main job on the embedded default store: index a folder of images, search by text and by
# example image, print the hits and write a contact sheet.
#   scripts/demo.sh [MODEL]   MODEL: a registry name (default ViT-B-32::openai, downloaded on
#                             first use) or a local model directory (offline)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${1:-ViT-B-32::openai}"
CLIPDEX=build/clipdex
WORK=build/demo
EMOJI=.cache/npm/node_modules
DB="$WORK/demo.db"

mkdir -p "$WORK/images"
if [ ! -f "$WORK/images/.ready" ]; then
    # 300 Twemoji drawings, named by their English label (spaces and all), plus a few with
    # Chinese names, so the demo also shows that such paths work.
    .venv/bin/python scripts/demo_images.py "$EMOJI" "$WORK/images" 300
    touch "$WORK/images/.ready"
fi

if [ -d "$MODEL" ]; then
    echo "== model: local directory $MODEL"
elif ! $CLIPDEX models pull "$MODEL"; then
    echo "== could not fetch $MODEL (offline?). Run offline with a local model folder:"
    echo "   make demo MODEL=../shared/models/emoji-clip-tiny"
    exit 1
fi

rm -f "$DB" "$DB"-*
run() { echo "\$ clipdex $*"; $CLIPDEX --db "$DB" --model "$MODEL" "$@"; echo; }
run index "$WORK/images"
run stats
run search "dog face" -k 5
run search "猫脸" -k 5
run search --image "$WORK/query-openmoji-dog.svg" -k 5 --grid "$WORK/contact-sheet.png"
echo "contact sheet of the image query: $WORK/contact-sheet.png"
