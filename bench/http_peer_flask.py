"""The service a user of the old Python stack would run: seed 001's Flask endpoints on open_clip
and Milvus Lite, under gunicorn (a production WSGI server). bench/http_bench.py starts it as

    gunicorn -k gthread -w 1 --threads T -b 127.0.0.1:PORT 'http_peer_flask:create_app()'

with CLIPDEX_PEER_MODEL (an open_clip model folder) and CLIPDEX_PEER_DB (a Milvus Lite file that
http_bench.py filled with the same rows as clipdex's store). One worker process: Milvus Lite
serves one file to one process, and torch uses its own intra-op threads per request."""
import json
import os
import pathlib

import torch
from flask import Flask, jsonify, request

COLLECTION = "clipdex_bench"


def load_model(model_dir: pathlib.Path):
    import open_clip
    from safetensors.torch import load_file
    cfg = json.loads((model_dir / "open_clip_config.json").read_text())
    model = open_clip.model.CLIP(**cfg["model_cfg"])
    model.load_state_dict({k: v.float() for k, v in load_file(str(model_dir / "open_clip_model.safetensors")).items()})
    model.eval()
    return model, open_clip.get_tokenizer("ViT-B-32")


def create_app():
    from pymilvus import MilvusClient
    model, tokenizer = load_model(pathlib.Path(os.environ["CLIPDEX_PEER_MODEL"]))
    client = MilvusClient(os.environ["CLIPDEX_PEER_DB"])
    client.load_collection(COLLECTION)
    app = Flask(__name__)

    @app.get("/api/milvus/health")
    def health():
        return jsonify({"service": "flask-open_clip-milvus-lite", "status": "healthy"})

    @app.post("/api/milvus/search")
    def search():
        body = request.get_json(force=True)
        text, k = body["text"], int(body.get("k", 10))
        with torch.inference_mode():
            vector = model.encode_text(tokenizer([text]))
            vector = (vector / vector.norm(dim=-1, keepdim=True))[0].tolist()
        hits = client.search(COLLECTION, [vector], limit=k, output_fields=["url"],
                             search_params={"metric_type": "IP"})[0]
        results = [{"id": h["id"], "url": h["entity"]["url"], "similarity": h["distance"]} for h in hits]
        return jsonify({"success": True, "query": text, "k": k, "count": len(results), "results": results})

    return app


def fill(db, rows_file):
    """`python http_peer_flask.py LITE.db ROWS.json`: the collection, as seed 003's quick setup."""
    from pymilvus import MilvusClient
    rows = json.loads(pathlib.Path(rows_file).read_text())
    client = MilvusClient(db)
    client.create_collection(COLLECTION, dimension=len(rows[0]["vector"]), metric_type="IP", auto_id=False)
    client.insert(COLLECTION, rows)
    client.close()


if __name__ == "__main__":
    import sys
    fill(sys.argv[1], sys.argv[2])
