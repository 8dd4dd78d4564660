"""Writes the seed corpora of fuzz_url, fuzz_clip_config, fuzz_tokenizer_files,
fuzz_descriptions and fuzz_hf_metadata: realistic inputs (the emoji test model's files, the
configs and hub answers real models have) plus edge cases. Run from the repo root:
python3 tests/fuzz/seedgen/text_seeds.py"""
import json
import pathlib

root = pathlib.Path("tests/fuzz/corpus")
model = pathlib.Path("../shared/models/emoji-clip-tiny")


def corpus(name, seeds):
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for seed_name, data in seeds.items():
        (folder / seed_name).write_bytes(data if isinstance(data, bytes) else data.encode())


corpus("url", {
    "https_public": "https://example.com/images/cat.jpg?size=large#top",
    "loopback_v4": "http://127.0.0.1:8080/admin",
    "loopback_v6": "http://[::1]/",
    "mapped_loopback": "http://[::ffff:127.0.0.1]/x.png",
    "metadata_aws": "http://169.254.169.254/latest/meta-data/",
    "metadata_aws_v6": "http://[fd00:ec2::254]/latest/",
    "hex_octets": "http://0x7f.1/",
    "decimal_host": "http://2130706433/",
    "octal_host": "http://0177.0.0.01/",
    "nat64_private": "http://[64:ff9b::a00:1]/",
    "nat64_local_use": "http://[64:ff9b:1::a00:1]/",
    "sixtofour_loopback": "http://[2002:7f00:1::]/",
    "zone_id": "http://[fe80::1%25eth0]:80/",
    "userinfo_private": "http://user:pw@10.0.0.1:80/@8.8.8.8/",
    "public_v6": "https://[2606:4700:4700::1111]:443/img",
    "unicode_path": "http://8.8.8.8/a b/\u00e4\U0001f600.jpg",
    "file_scheme": "file:///etc/passwd",
    "ftp_scheme": "ftp://example.com/a.jpg",
    "upper_scheme": "HTTP://1.1.1.1./",
    "exempt_host": "http://images.intranet:8080/a.png",
    "bare_cgnat": "100.64.0.1",
    "bare_v6_doc": "2001:db8::1",
    "bare_teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "percent_host": "http://%31%32%37.0.0.1/",
    "no_host": "http:///path",
    "backslash": "http://8.8.8.8\\@127.0.0.1/",
})

open_clip = (model / "open_clip_config.json").read_bytes()
vit_b32 = {
    "model_cfg": {"embed_dim": 512, "quick_gelu": False,
                  "vision_cfg": {"image_size": [224, 224], "layers": 12, "width": 768,
                                 "patch_size": 32, "head_width": 64, "mlp_ratio": 4.0},
                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512,
                               "heads": 8, "layers": 12, "mlp_ratio": 4}},
    "preprocess_cfg": {"mean": 0.5, "std": [0.25, 0.25, 0.25]}}
hf = {"model_type": "clip", "projection_dim": 512,
      "vision_config": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                        "intermediate_size": 3072, "image_size": 224, "patch_size": 32,
                        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05},
      "text_config": {"hidden_size": 512, "num_attention_heads": 8, "num_hidden_layers": 12,
                      "intermediate_size": 2048, "max_position_embeddings": 77,
                      "vocab_size": 49408, "hidden_act": "gelu", "layer_norm_eps": 1e-5}}
pre = {"image_mean": [0.48145466, 0.4578275, 0.40821073],
       "image_std": [0.26862954, 0.26130258, 0.27577711], "crop_size": 224}
corpus("clip_config", {
    "openclip_emoji": b"\0" + open_clip,
    "openclip_vit_b32": b"\0" + json.dumps(vit_b32).encode(),
    "openclip_flat": b"\0" + json.dumps(vit_b32["model_cfg"]).encode(),
    "openclip_timm": b"\0" + json.dumps({"embed_dim": 512, "vision_cfg": {"timm_model_name": "x"}}).encode(),
    "openclip_mlp_ratio": b"\0" + json.dumps({"embed_dim": 64, "vision_cfg": {"width": 64, "mlp_ratio": 1e30}}).encode(),
    "openclip_nested_width": b"\0" + ('{"embed_dim": 8, "text_cfg": {"width": ' + "[" * 40 + "]" * 40 + "}}").encode(),
    "hf_with_preprocessor": b"\1" + json.dumps(hf).encode() + b"\0" + json.dumps(pre).encode(),
    "hf_defaults": b"\1" + b'{"model_type": "clip"}',
    "hf_siglip": b"\1" + b'{"model_type": "siglip", "vision_config": null}',
    "hf_bad_eps": b"\1" + json.dumps({"vision_config": {"layer_norm_eps": -1}}).encode(),
    "hf_float_sizes": b"\1" + json.dumps({"vision_config": {"image_size": 224.0, "patch_size": 16.5}}).encode(),
    "hf_std_zero": b"\1{}\0" + json.dumps({"image_std": [0, 1, 1]}).encode(),
    "openclip_mean_huge": b"\0" + b'{"embed_dim": 8, "preprocess_cfg": {"mean": 1e300}}',
    "hf_eps_huge": b"\1" + b'{"text_config": {"layer_norm_eps": 1e300}}',
})

# A small vocabulary: the 512 byte symbols of the test model, a few dozen merges and their
# tokens, and the two special tokens, in vocab.json + NUL + merges.txt form.
vocab = json.loads((model / "vocab.json").read_text())
merge_lines = (model / "merges.txt").read_text().split("\n")[1:41]
small = {token: i for token, i in vocab.items() if i < 512}
for line in merge_lines:
    left, right = line.split()
    small[left + right] = vocab[left + right]
small["<|startoftext|>"] = vocab["<|startoftext|>"]
small["<|endoftext|>"] = vocab["<|endoftext|>"]
small_json = json.dumps(small, ensure_ascii=False).encode()
merges = ("#version: 0.2\n" + "\n".join(merge_lines) + "\n").encode()
corpus("tokenizer_files", {
    "small_model": small_json + b"\0" + merges,
    "no_version_line": small_json + b"\0" + "\n".join(merge_lines[:5]).encode(),
    "missing_special": json.dumps({k: v for k, v in small.items() if not k.startswith("<|")}).encode() + b"\0" + merges,
    "huge_ids": json.dumps({**small, "in": 2**31 - 1, "th": 2**40}).encode() + b"\0" + merges,
    "bad_merge": small_json + b"\0#version: 0.2\ni n x\n",
    "unknown_merge": small_json + b"\0#version: 0.2\nzz yy\n",
    "crlf_merges": small_json + b"\0#version: 0.2\r\ni n\r\nt h\r\n",
})

corpus("descriptions", {
    "names": json.dumps({"cat.jpg": "a cat on a sofa", "dog.png": "a dog"}),
    "paths": json.dumps({"/photos/2024/beach.jpg": "the beach", "2024/snow.webp": "snow",
                         "../outside.jpg": "outside", "": "empty key"}),
    "unicode": json.dumps({"\u732b.jpg": "\u732b\u306e\u5199\u771f \U0001f431",
                           "caf\u00e9.gif": "caf\u00e9"}, ensure_ascii=False),
    "escapes": r'{"a\u0000b.jpg": "nul \ud83d\ude00 \n\t\"", "dup.jpg": "1", "dup.jpg": "2"}',
    "empty": "{}",
    "array": '["cat.jpg", "a cat"]',
    "number_value": '{"cat.jpg": 5}',
    "nested_value": '{"cat.jpg": {"text": "a cat"}}',
    "bom": b"\xef\xbb\xbf" + json.dumps({"a.jpg": "with BOM"}).encode(),
    "truncated": '{"cat.jpg": "a c',
    "invalid_utf8": b'{"cat.jpg": "\xff\xfe"}',
})

commit = "a" * 40
sha = "b" * 64
corpus("hf_metadata", {
    "regular_file": f'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 605\r\nETag: "{commit[:40]}"\r\nX-Repo-Commit: {commit}\r\n\r\n',
    "lfs_redirect": f'HTTP/2 302\r\nLocation: https://cdn-lfs.hf.co/repos/ab/cd/{sha}?X-Amz-Signature=x\r\nX-Linked-Etag: "{sha}"\r\nX-Linked-Size: 31959188\r\nETag: W/"{commit}"\r\nX-Repo-Commit: {commit}\r\n\r\n',
    "renamed_repo": 'HTTP/1.1 307 Temporary Redirect\r\nLocation: /new-org/name/resolve/main/open_clip_config.json\r\nX-Repo-Commit: ' + commit + '\r\nETag: "x"\r\n\r\n',
    "continue_then_ok": f'HTTP/1.1 100 Continue\r\nX-Repo-Commit: evil\r\n\r\nHTTP/1.1 200 OK\r\nX-Repo-Commit: {commit}\r\nETag: "e1"\r\n\r\n',
    "entry_not_found": f"HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\nX-Repo-Commit: {commit}\r\n\r\n",
    "repo_not_found": "HTTP/1.1 401 Unauthorized\r\nX-Error-Code: RepoNotFound\r\nX-Error-Message: Repository not found\r\n\r\n",
    "gated": "HTTP/1.1 403 Forbidden\r\nX-Error-Message: Access to model is restricted\r\n\r\n",
    "server_error": "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n",
    "proxy_page": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n",
    "commit_traversal": 'HTTP/1.1 200 OK\r\nX-Repo-Commit: ../../../../tmp/x\r\nETag: "e"\r\n\r\n',
    "etag_dotdot": f'HTTP/1.1 200 OK\r\nX-Repo-Commit: {commit}\r\nETag: ".."\r\n\r\n',
    "size_overflow": f'HTTP/1.1 200 OK\r\nX-Repo-Commit: {commit}\r\nETag: "e"\r\nContent-Length: 99999999999999999999999\r\n\r\n',
    "absolute_elsewhere": f'HTTP/1.1 301 Moved\r\nLocation: http://169.254.169.254/x\r\nX-Repo-Commit: {commit}\r\nETag: "e"\r\n\r\n',
    "no_colon_lines": "HTTP/1.1 200 OK\nnonsense\n: empty name\nX-Repo-Commit:\n\n",
})
