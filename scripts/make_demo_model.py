"""Makes models/emoji-clip-tiny-f16/ (the demo model shipped in the repository) from
../shared/models/emoji-clip-tiny: the same weights in F16 (half the size), the same config,
tokenizer files and README facts. Run once by a maintainer; the output is committed.

    .venv/bin/python scripts/make_demo_model.py [SOURCE] [DEST]

safetensors layout (the format's own spec): an 8-byte little-endian header length, a JSON
header {name: {dtype, shape, data_offsets}}, then the tensor bytes. F32 tensors become F16
(round to nearest even, as numpy's astype does); other dtypes are copied.
"""
import json
import pathlib
import shutil
import struct
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "F16": np.float16}[info["dtype"]]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return tensors


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        blob = array.tobytes()
        header[name] = {"dtype": {np.float16: "F16", np.float32: "F32"}[array.dtype.type],
                        "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # tensor data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)


def main():
    source = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else REPO.parent / "shared/models/emoji-clip-tiny")
    dest = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else REPO / "models/emoji-clip-tiny-f16")
    dest.mkdir(parents=True, exist_ok=True)
    tensors = read_safetensors(source / "open_clip_model.safetensors")
    half = {name: t.astype(np.float16) if t.dtype == np.float32 else t for name, t in tensors.items()}
    write_safetensors(dest / "open_clip_model.safetensors", half,
                      {"format": "pt", "source": "emoji-clip-tiny (F32), converted to F16"})
    for name in ("open_clip_config.json", "vocab.json", "merges.txt"):
        shutil.copyfile(source / name, dest / name)
    print(f"{dest}: {sum(t.nbytes for t in half.values()) / 1e6:.1f} MB of F16 tensors")


if __name__ == "__main__":
    main()
