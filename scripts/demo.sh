#!/usr/bin/env bash
# The main job on the embedded default store: index a folder of images, search by text (English
# and Chinese) and by an example image, print the hits and write a contact sheet.
#   scripts/demo.sh [MODEL]   MODEL: a registry name or a local model directory. Without one the
#                             default model (ViT-B-32::openai) is fetched; when it cannot be
#                             (offline), the demo model shipped in models/ answers instead.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD="${BUILD:-build}"
CLIPDEX="$BUILD/clipdex"
WORK="${DEMO_WORK:-$BUILD/demo}"
EMOJI=.cache/npm/node_modules
DB="$WORK/demo.db"
SHIPPED=models/emoji-clip-tiny-f16

mkdir -p "$WORK/images"
if [ ! -f "$WORK/images/.ready" ] || [ ! -f "$WORK/query-openmoji-strawberry.svg" ]; then
    # About 300 Twemoji drawings, named by their English label (spaces and all), every fifth by
    # its Chinese label in a folder with a space, so the demo also shows that such paths work.
    python3 scripts/demo_images.py "$EMOJI" "$WORK/images" 300
    touch "$WORK/images/.ready"
fi

if [ -n "${1:-}" ]; then
    MODEL="$1"
    [ -d "$MODEL" ] || $CLIPDEX models pull "$MODEL"
elif $CLIPDEX models pull ViT-B-32::openai 2>"$WORK/pull.log"; then
    MODEL=ViT-B-32::openai
else
    MODEL="$SHIPPED"
    echo "== ViT-B-32::openai cannot be fetched ($(tail -n 1 "$WORK/pull.log" | cut -c1-120)); using the demo model $SHIPPED (emoji drawings only, see its README)"
fi
echo "== model: $MODEL"

rm -f "$DB" "$DB"-*
run() { echo "\$ clipdex $*"; $CLIPDEX --db "$DB" --model "$MODEL" "$@"; echo; }
count=$(find "$WORK/images" -name '*.svg' | wc -l)
echo "== indexing $count emoji drawings (Twemoji) from $WORK/images into the embedded store $DB:"
echo "   each picture is rendered, encoded by the model's image tower and stored with its path."
run index "$WORK/images"
run stats
echo "== searching by words: the text tower encodes the query, the store returns the nearest pictures."
echo "   The file names are only labels for you: the model never reads them."
run search "dog face" -k 3
run search "ice cream" -k 3
echo "== the same in Chinese: 草莓 means strawberry (the file is named in English)."
run search "草莓" -k 3
echo "== searching by an example image: OpenMoji's strawberry, drawn by other artists than every indexed picture."
run search --image "$WORK/query-openmoji-strawberry.svg" -k 8 --grid "$WORK/contact-sheet.png"
echo "== done in ${SECONDS} s; contact sheet of the image query: $WORK/contact-sheet.png"
