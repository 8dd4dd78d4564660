"""clipdex's CLIP towers against open_clip on the same weights and the same inputs.

Inputs are shared as .npy files (token ids, preprocessed pixels) so that only the towers are
compared; `clipdex embed --ids-npy/--pixels-npy --npy` runs the C++ side.
"""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import torch
import open_clip

import test_model_support as support  # noqa: E402

COS_MIN = 0.9999
ABS_MAX = 1e-4


def small(width=128, layers=2, head_width=64, patch=8, image=32, twidth=128, theads=2, tlayers=2, embed=64,
          quick=True, context=77, vocab=49408, mlp_ratio=4.0):
    cfg = {
        "embed_dim": embed,
        "vision_cfg": {"image_size": image, "layers": layers, "width": width, "patch_size": patch,
                       "head_width": head_width, "mlp_ratio": mlp_ratio},
        "text_cfg": {"context_length": context, "vocab_size": vocab, "width": twidth, "heads": theads,
                     "layers": tlayers, "mlp_ratio": mlp_ratio},
    }
    if quick:
        cfg["quick_gelu"] = True
    return cfg


SMALL = {
    "w128-quick": small(),
    "w256-gelu-8heads": small(width=256, layers=3, head_width=32, patch=16, image=64, twidth=192, theads=3,
                              tlayers=3, embed=96, quick=False),
    "w192-p12-ctx32-vocab1000": small(width=192, layers=2, patch=12, image=48, twidth=64, theads=4, embed=32,
                                      context=32, vocab=1000, mlp_ratio=2.0),
}
VIT_B_32 = {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}
VIT_B_16 = {**VIT_B_32, "vision_cfg": {**VIT_B_32["vision_cfg"], "patch_size": 16}}
BIG = {"ViT-B-32-quickgelu": {**VIT_B_32, "quick_gelu": True}, "ViT-B-32-gelu": VIT_B_32,
       "ViT-B-16-quickgelu": {**VIT_B_16, "quick_gelu": True}}


def clipdex_exe(build_dir: pathlib.Path) -> pathlib.Path:
    exe = pathlib.Path(os.environ.get("CLIPDEX_EXE", build_dir / "clipdex"))
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build the clipdex target")
    return exe


def embed(exe, model_dir, tmp_path, ids=None, pixels=None, threads=2):
    args = [str(exe), "--threads", str(threads), "embed", "--model", str(model_dir), "--npy", str(tmp_path / "out.npy")]
    if ids is not None:
        np.save(tmp_path / "ids.npy", ids)
        args += ["--ids-npy", str(tmp_path / "ids.npy")]
    if pixels is not None:
        np.save(tmp_path / "pixels.npy", pixels)
        args += ["--pixels-npy", str(tmp_path / "pixels.npy")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return np.load(tmp_path / "out.npy")


def reference(model, ids=None, pixels=None):
    rows = []
    with torch.no_grad():
        if ids is not None:
            rows.append(model.encode_text(torch.from_numpy(ids).long(), normalize=True).numpy())
        if pixels is not None:
            rows.append(model.encode_image(torch.from_numpy(pixels), normalize=True).numpy())
    return np.concatenate(rows)


def assert_close(got, want, cos_min=COS_MIN, abs_max=ABS_MAX):
    assert got.shape == want.shape
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() >= cos_min, f"cosine {cos.min()}"
    assert np.abs(got - want).max() <= abs_max, f"max abs diff {np.abs(got - want).max()}"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def inputs_for(cfg, n_text=5, n_image=3):
    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    ids = support.random_ids(n_text, t.get("context_length", 77), t.get("vocab_size", 49408))
    pixels = support.real_looking_pixels(n_image, v["image_size"])
    return ids, pixels


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("variant", ["open_clip", "hf", "hf_sharded", "bin"])
def test_small_models_match_open_clip(build_dir, tmp_path, name, variant):
    cfg = SMALL[name]
    ref_model = support.load_open_clip(support.checkpoint(cfg, "open_clip"))
    ids, pixels = inputs_for(cfg)
    got = embed(clipdex_exe(build_dir), support.checkpoint(cfg, variant), tmp_path, ids, pixels)
    assert_close(got, reference(ref_model, ids, pixels))


@pytest.mark.parametrize("variant", ["f16", "bf16"])
def test_half_weights_match_open_clip_on_rounded_weights(build_dir, tmp_path, variant):
    cfg = SMALL["w256-gelu-8heads"]
    directory = support.checkpoint(cfg, variant)
    ref_model = support.load_open_clip(directory)  # the rounded weights, computed in F32
    ids, pixels = inputs_for(cfg)
    got = embed(clipdex_exe(build_dir), directory, tmp_path, ids, pixels)
    assert_close(got, reference(ref_model, ids, pixels))


def test_hf_conversion_matches_transformers(tmp_path):
    """Guards the test's own HF files: transformers reads them and agrees with open_clip."""
    import transformers
    from safetensors.torch import load_file

    cfg = SMALL["w256-gelu-8heads"]
    directory = support.checkpoint(cfg, "hf")
    hf = transformers.CLIPModel(transformers.CLIPConfig(**json.loads((directory / "config.json").read_text())))
    sd = load_file(directory / "model.safetensors")
    sd.pop("text_model.embeddings.position_ids")  # legacy buffer newer transformers no longer has
    hf.load_state_dict(sd, strict=True)
    hf.eval()
    ids, pixels = inputs_for(cfg)
    with torch.no_grad():
        t = hf.get_text_features(input_ids=torch.from_numpy(ids).long()).pooler_output
        i = hf.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output
    got = torch.nn.functional.normalize(torch.cat([t, i]), dim=-1).numpy()
    want = reference(support.load_open_clip(support.checkpoint(cfg, "open_clip")), ids, pixels)
    assert_close(got, want)


@pytest.mark.parametrize("name", sorted(BIG))
def test_vit_b_models_match_open_clip(build_dir, tmp_path, name):
    cfg = BIG[name]
    ref_model = support.load_open_clip(support.checkpoint(cfg, "open_clip"))
    ids, pixels = inputs_for(cfg, n_text=3, n_image=2)
    got = embed(clipdex_exe(build_dir), support.checkpoint(cfg, "open_clip"), tmp_path, ids, pixels)
    assert_close(got, reference(ref_model, ids, pixels))


def test_vit_b_32_hf_format_matches_open_clip(build_dir, tmp_path):
    cfg = BIG["ViT-B-32-quickgelu"]
    ref_model = support.load_open_clip(support.checkpoint(cfg, "open_clip"))
    ids, pixels = inputs_for(cfg, n_text=2, n_image=1)
    got = embed(clipdex_exe(build_dir), support.checkpoint(cfg, "hf"), tmp_path, ids, pixels)
    assert_close(got, reference(ref_model, ids, pixels))


def test_emoji_clip_tiny_matches_open_clip(build_dir, tmp_path, emoji_model_dir):
    ref_model = support.load_open_clip(emoji_model_dir)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    ids = tokenizer(["dog face", "red heart emoji", "an emoji of a grinning cat", "狗脸", ""]).numpy().astype(np.int32)
    pixels = support.real_looking_pixels(4, 64, seed=3)
    got = embed(clipdex_exe(build_dir), emoji_model_dir, tmp_path, ids, pixels)
    assert_close(got, reference(ref_model, ids, pixels))


def test_batch_equals_singles(build_dir, tmp_path):
    cfg = SMALL["w128-quick"]
    directory = support.checkpoint(cfg, "open_clip")
    ids, pixels = inputs_for(cfg, n_text=4, n_image=3)
    exe = clipdex_exe(build_dir)
    batch = embed(exe, directory, tmp_path, ids, pixels)
    singles = [embed(exe, directory, tmp_path, ids=ids[i:i + 1]) for i in range(4)]
    singles += [embed(exe, directory, tmp_path, pixels=pixels[i:i + 1], threads=1) for i in range(3)]
    np.testing.assert_allclose(batch, np.concatenate(singles), atol=1e-5)


def test_embed_texts_and_images_in_input_order(build_dir, tmp_path, emoji_model_dir):
    """End to end: tokenizer and image pipeline included, compared with open_clip's own."""
    from PIL import Image

    image = tmp_path / "grin.png"
    Image.fromarray(support.real_looking_pixels(1, 64)[0].transpose(1, 2, 0).clip(0, 1).__mul__(255).astype(np.uint8)).save(image)
    args = [str(clipdex_exe(build_dir)), "embed", "--model", str(emoji_model_dir), "--text", "dog face",
            "--image", str(image), "--text", "red heart", "--json"]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [item["kind"] for item in out["items"]] == ["text", "image", "text"]
    assert out["embed_dim"] == 128
    got = np.array([item["embedding"] for item in out["items"]], dtype=np.float32)
    model = support.load_open_clip(emoji_model_dir)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    transform = open_clip.image_transform(64, is_train=False, mean=support.OPENAI_MEAN, std=support.OPENAI_STD)
    with torch.no_grad():
        t = model.encode_text(tokenizer(["dog face", "red heart"]), normalize=True).numpy()
        i = model.encode_image(transform(Image.open(image)).unsqueeze(0), normalize=True).numpy()
    assert_close(got, np.stack([t[0], i[0], t[1]]), cos_min=0.999, abs_max=1e-3)


@pytest.mark.parametrize("damage", ["truncated", "missing_tensor", "wrong_shape", "bad_config"])
def test_damaged_checkpoints_fail_cleanly(build_dir, tmp_path, damage):
    import shutil

    from safetensors.torch import load_file, save_file

    src = support.checkpoint(SMALL["w128-quick"], "open_clip")
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    weights = dst / "open_clip_model.safetensors"
    expect = "open_clip_model.safetensors"
    if damage == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "missing_tensor":
        sd = load_file(weights)
        del sd["visual.transformer.resblocks.1.mlp.c_fc.weight"]
        save_file(sd, str(weights))
        expect = "visual.transformer.resblocks.1.mlp.c_fc.weight"
    elif damage == "wrong_shape":
        sd = load_file(weights)
        sd["ln_final.weight"] = sd["ln_final.weight"][:-1].contiguous()
        save_file(sd, str(weights))
        expect = "ln_final.weight"
    else:
        (dst / "open_clip_config.json").write_text('{"model_cfg": {"embed_dim": "big"}}')
        expect = "open_clip_config.json"
    ids = support.random_ids(1, 77, 49408)
    np.save(tmp_path / "ids.npy", ids)
    run = subprocess.run([str(clipdex_exe(build_dir)), "embed", "--model", str(dst), "--ids-npy", str(tmp_path / "ids.npy")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode not in (0, -6, -11), run.stderr
    assert expect in run.stderr, run.stderr
