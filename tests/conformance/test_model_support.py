"""Support for test_model.py (no tests here): random-weight CLIP checkpoints in both on-disk formats, cached by config under .cache/test-models.

open_clip builds the model (so its architecture rules apply), every parameter gets small random
noise (so biases and LayerNorm affines are not the trivial 0/1), and the same weights are written
as OpenCLIP files, as HF transformers files (renamed, q/k/v split, projections transposed) and,
on request, in F16/BF16 or as HF shards.
"""
import hashlib
import json
import pathlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "test-models"
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def config_key(model_cfg: dict, variant: str) -> str:
    text = json.dumps({"cfg": model_cfg, "variant": variant, "v": 1}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_open_clip(model_cfg: dict, seed: int = 0):
    import open_clip
    import torch

    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**model_cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def load_open_clip(directory: pathlib.Path):
    import open_clip
    from safetensors.torch import load_file

    cfg = json.loads((directory / "open_clip_config.json").read_text())
    model = open_clip.model.CLIP(**cfg["model_cfg"])
    model.load_state_dict({k: v.float() for k, v in load_file(directory / "open_clip_model.safetensors").items()})
    return model.eval()


def hf_state_dict(sd: dict, vision_layers: int, text_layers: int) -> dict:
    out = {}
    m = {
        "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "visual.class_embedding": "vision_model.embeddings.class_embedding",
        "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
        "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
        "visual.ln_post.weight": "vision_model.post_layernorm.weight",
        "visual.ln_post.bias": "vision_model.post_layernorm.bias",
        "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
        "positional_embedding": "text_model.embeddings.position_embedding.weight",
        "ln_final.weight": "text_model.final_layer_norm.weight",
        "ln_final.bias": "text_model.final_layer_norm.bias",
        "logit_scale": "logit_scale",
    }
    for k, v in m.items():
        out[v] = sd[k]
    out["visual_projection.weight"] = sd["visual.proj"].t().contiguous()
    out["text_projection.weight"] = sd["text_projection"].t().contiguous()
    for src, dst, layers in (("visual.transformer.resblocks.", "vision_model.encoder.layers.", vision_layers),
                             ("transformer.resblocks.", "text_model.encoder.layers.", text_layers)):
        for i in range(layers):
            s, d = f"{src}{i}.", f"{dst}{i}."
            for a, b in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("attn.out_proj", "self_attn.out_proj"),
                         ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[f"{d}{b}.weight"] = sd[f"{s}{a}.weight"]
                out[f"{d}{b}.bias"] = sd[f"{s}{a}.bias"]
            w, bias = sd[f"{s}attn.in_proj_weight"].chunk(3), sd[f"{s}attn.in_proj_bias"].chunk(3)
            for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
                out[f"{d}self_attn.{name}.weight"] = w[j].contiguous()
                out[f"{d}self_attn.{name}.bias"] = bias[j].contiguous()
    import torch
    out["text_model.embeddings.position_ids"] = torch.arange(sd["positional_embedding"].shape[0])[None]
    return out


def hf_config(model_cfg: dict) -> dict:
    v, t = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    act = "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
    vw, tw = v["width"], t["width"]
    return {
        "model_type": "clip",
        "architectures": ["CLIPModel"],
        "projection_dim": model_cfg["embed_dim"],
        "vision_config": {
            "hidden_size": vw, "intermediate_size": int(vw * v.get("mlp_ratio", 4.0)),
            "num_attention_heads": vw // v.get("head_width", 64), "num_hidden_layers": v["layers"],
            "image_size": v["image_size"], "patch_size": v["patch_size"], "hidden_act": act, "layer_norm_eps": 1e-5,
        },
        "text_config": {
            "hidden_size": tw, "intermediate_size": int(tw * t.get("mlp_ratio", 4.0)),
            "num_attention_heads": t.get("heads", 8), "num_hidden_layers": t["layers"],
            "max_position_embeddings": t.get("context_length", 77), "vocab_size": t.get("vocab_size", 49408),
            "hidden_act": act, "layer_norm_eps": 1e-5, "eos_token_id": 2,  # 2: pool at argmax, as open_clip
        },
    }


def _save(sd: dict, path: pathlib.Path, dtype=None):
    import torch
    from safetensors.torch import save_file

    tensors = {}
    for k, v in sd.items():
        v = v.detach().contiguous()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v
    save_file(tensors, str(path))


def checkpoint(model_cfg: dict, variant: str = "open_clip") -> pathlib.Path:
    """Returns a directory holding the model in `variant`: open_clip, hf, f16, bf16, hf_sharded or bin.

    All variants of one config hold the same random weights (rounded for f16/bf16)."""
    import torch

    directory = CACHE / config_key(model_cfg, variant)
    done = directory / ".complete"
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    model = build_open_clip(model_cfg)
    sd = model.state_dict()
    pre = {"mean": OPENAI_MEAN, "std": OPENAI_STD}
    if variant == "bin":  # the legacy PyTorch zip checkpoint open_clip repos also ship
        (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": pre}))
        torch.save({k: v.contiguous() for k, v in sd.items()}, directory / "open_clip_pytorch_model.bin")
    elif variant in ("open_clip", "f16", "bf16"):
        dtype = {"open_clip": None, "f16": torch.float16, "bf16": torch.bfloat16}[variant]
        (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": pre}))
        _save(sd, directory / "open_clip_model.safetensors", dtype)
    else:
        hsd = hf_state_dict(sd, model_cfg["vision_cfg"]["layers"], model_cfg["text_cfg"]["layers"])
        (directory / "config.json").write_text(json.dumps(hf_config(model_cfg)))
        (directory / "preprocessor_config.json").write_text(json.dumps({"image_mean": OPENAI_MEAN, "image_std": OPENAI_STD}))
        if variant == "hf":
            _save(hsd, directory / "model.safetensors")
        else:
            names = sorted(hsd)
            half = len(names) // 2
            weight_map = {}
            for i, part in enumerate((names[:half], names[half:])):
                file = f"model-{i + 1:05d}-of-00002.safetensors"
                _save({k: hsd[k] for k in part}, directory / file)
                weight_map.update({k: file for k in part})
            (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    done.write_text("ok")
    return directory


def random_ids(n: int, context: int, vocab: int, seed: int = 0) -> np.ndarray:
    """Token rows framed like CLIP's: start, random tokens, end = the largest id, zero padding."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, context), dtype=np.int32)
    for i in range(n):
        length = int(rng.integers(1, context - 1)) if i else context - 2
        ids[i, 0] = vocab - 2
        ids[i, 1:1 + length] = rng.integers(1, vocab - 2, size=length)
        ids[i, 1 + length] = vocab - 1
    return ids


def real_looking_pixels(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients with shapes drawn by Pillow, preprocessed as open_clip does."""
    import open_clip
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    transform = open_clip.image_transform(size, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD)
    out = []
    for _ in range(n):
        w, h = int(rng.integers(size, 3 * size)), int(rng.integers(size, 3 * size))
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 127 // (w + h)) + 64], -1).astype(np.uint8)
        img = Image.fromarray(base)
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(5, w // 2 + 6)), y0 + int(rng.integers(5, h // 2 + 6))
            draw.ellipse([x0, y0, x1, y1], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        out.append(transform(img).numpy())
    return np.stack(out).astype(np.float32)
