#!/bin/bash
# Two clipdex binaries, alternating rounds on one folder: a full index into a fresh database,
# then every file `touch`ed and indexed again (the metadata-only path). Prints wall and CPU
# seconds (user+sys of the child: less sensitive to other load) per run.
#   bench/index_rounds.sh OLD_CLIPDEX NEW_CLIPDEX IMAGES [MODEL] [ROUNDS]
# Run it under the CPU lock: flock -x /tmp/clipdex-cpu.lock bench/index_rounds.sh ...
set -euo pipefail
old=$1 new=$2 images=$3
model=${4:-../shared/models/emoji-clip-tiny}
rounds=${5:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A bin=([old]=$old [new]=$new)
timed() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"wall {wall:.3f} cpu {usage.ru_utime + usage.ru_stime:.3f}")
PY
}
for ((round = 1; round <= rounds; ++round)); do
    if ((round % 2)); then order="old new"; else order="new old"; fi
    for which in $order; do
        db=$work/$which.db
        rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
        full=$(timed "${bin[$which]}" --db "$db" --model "$model" --threads 2 index "$images")
        find "$images" -type f -exec touch {} +
        touched=$(timed "${bin[$which]}" --db "$db" --model "$model" --threads 2 index "$images")
        echo "round $round $which full [$full] touched [$touched] load $(cut -d' ' -f1 /proc/loadavg)"
    done
done
