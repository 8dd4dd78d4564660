"""The PyTorch checkpoint reader against torch itself: every tensor torch.save writes must come
back from clipdex_dump_weights with torch.load's dtype, shape and bytes; hostile and legacy files
must be refused with a clear message and without running anything."""
import collections
import json
import os
import pathlib
import subprocess
import zipfile
import zlib

import pytest

import torch

TOOL = "clipdex_dump_weights"
DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


@pytest.fixture(scope="session")
def dump_tool(build_dir):
    for candidate in (build_dir / "tests" / TOOL, build_dir / TOOL, build_dir / "tests" / "tools" / TOOL):
        if candidate.is_file():
            return candidate
    pytest.fail(f"{TOOL} not found under {build_dir}: build the target {TOOL}")


def run_tool(tool, path):
    return subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=600)


def dump(tool, path):
    result = run_tool(tool, path)
    assert result.returncode == 0, result.stderr
    return {t["name"]: t for t in json.loads(result.stdout)["tensors"]}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def expected(state):
    return {name: t for name, t in state.items() if isinstance(t, torch.Tensor)}


def assert_same(got, state, strip=""):
    want = {name[len(strip):] if name.startswith(strip) else name: t for name, t in expected(state).items()}
    assert sorted(got) == sorted(want)
    for name, t in want.items():
        entry = got[name]
        data = tensor_bytes(t)
        assert entry["dtype"] == DTYPES[t.dtype], name
        assert entry["shape"] == list(t.shape), name
        assert entry["nbytes"] == len(data), name
        assert entry["crc32"] == zlib.crc32(data), name
        assert entry["head"] == data[:16].hex(), name


def save_and_compare(tool, tmp_path, state, **save_args):
    path = tmp_path / "model.pt"
    torch.save(state, path, **save_args)
    # torch's own weights-only unpickler stops at protocol 4's FRAME; these files are our own.
    loaded = torch.load(path, weights_only=save_args.get("pickle_protocol", 2) < 4)
    assert_same(dump(tool, path), loaded)
    return path


def test_every_dtype(dump_tool, tmp_path):
    g = torch.Generator().manual_seed(0)
    state = collections.OrderedDict()
    for dtype in DTYPES:
        base = torch.randn(5, 7, generator=g) * 50
        state[f"t_{DTYPES[dtype]}"] = base.to(dtype)
    state["position_ids"] = torch.arange(77).unsqueeze(0)
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)
    save_and_compare(dump_tool, tmp_path, state)


def test_views_shared_storage_and_offsets(dump_tool, tmp_path):
    a = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    state = {
        "a": a,
        "transposed": a.transpose(0, 2),
        "permuted": a.permute(1, 2, 0),
        "row": a[1],
        "slice": a[:, 1:3, ::2],
        "narrow_half": a.half()[2:, :, 1],
        "expanded": torch.ones(1, 3).expand(4, 3),
        "flat_offset": a.view(-1)[17:29],
        "bf16_t": torch.randn(8, 6).bfloat16().t(),
    }
    save_and_compare(dump_tool, tmp_path, state)


def test_module_state_dict_with_parameters(dump_tool, tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.BatchNorm1d(3))
    save_and_compare(dump_tool, tmp_path, model.state_dict())
    save_and_compare(dump_tool, tmp_path, model.state_dict(keep_vars=True))


def test_training_checkpoint_wrapper_and_module_prefix(dump_tool, tmp_path):
    model = torch.nn.DataParallel(torch.nn.Linear(4, 3))
    state = model.state_dict()
    assert all(k.startswith("module.") for k in state)
    path = tmp_path / "epoch_3.pt"
    torch.save({"epoch": 3, "name": "run", "lr": 1e-3, "state_dict": state, "optimizer": {"state": {}}}, path)
    assert_same(dump(dump_tool, path), state, strip="module.")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols(dump_tool, tmp_path, protocol):
    state = {"w": torch.randn(3, 2), "b": torch.randn(2).t(), "i": torch.arange(4)}
    save_and_compare(dump_tool, tmp_path, state, pickle_protocol=protocol)


def test_archive_name_does_not_matter(dump_tool, tmp_path):
    state = {"w": torch.randn(3, 2)}
    src = tmp_path / "model.pt"
    torch.save(state, src)
    renamed = tmp_path / "open_clip_pytorch_model.bin"
    src.rename(renamed)
    assert_same(dump(dump_tool, renamed), state)


def rezip(src, dst, compression):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            zout.writestr("other/" + info.filename.split("/", 1)[1], zin.read(info))


def test_unaligned_stored_archive_is_read(dump_tool, tmp_path):
    state = {"w": torch.randn(9, 5), "h": torch.randn(7).half(), "i": torch.arange(3)}
    src = tmp_path / "model.pt"
    torch.save(state, src)
    dst = tmp_path / "rezipped.pt"
    rezip(src, dst, zipfile.ZIP_STORED)
    assert_same(dump(dump_tool, dst), state)


def test_deflated_archive_is_refused(dump_tool, tmp_path):
    src = tmp_path / "model.pt"
    torch.save({"w": torch.randn(9, 5)}, src)
    dst = tmp_path / "deflated.pt"
    rezip(src, dst, zipfile.ZIP_DEFLATED)
    result = run_tool(dump_tool, dst)
    assert result.returncode == 2
    assert "compressed" in result.stderr


def test_legacy_format_is_refused(dump_tool, tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.randn(2)}, path, _use_new_zipfile_serialization=False)
    result = run_tool(dump_tool, path)
    assert result.returncode == 2
    assert "legacy non-zip torch checkpoint: re-save with torch>=1.6" in result.stderr


class Exploit:
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_checkpoint_is_refused_and_not_run(dump_tool, tmp_path):
    marker = tmp_path / "pwned"
    Exploit.marker = str(marker)
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.randn(2), "payload": Exploit()}, path)
    result = run_tool(dump_tool, path)
    assert result.returncode == 2
    assert "refusing pickle global posix.system" in result.stderr
    assert not marker.exists()


def test_classic_payload_in_a_real_archive(dump_tool, tmp_path):
    marker = tmp_path / "pwned"
    src = tmp_path / "model.pt"
    torch.save({"w": torch.randn(2)}, src)
    dst = tmp_path / "evil.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/data.pkl"):
                data = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
            zout.writestr(info.filename, data)
    result = run_tool(dump_tool, dst)
    assert result.returncode == 2
    assert "refusing pickle global os.system at offset 0" in result.stderr
    assert not marker.exists()


def test_lying_storage_size(dump_tool, tmp_path):
    src = tmp_path / "model.pt"
    torch.save({"w": torch.arange(10, dtype=torch.float32)}, src)
    dst = tmp_path / "lying.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/data/0"):
                data = data[:20]
            zout.writestr(info.filename, data)
    result = run_tool(dump_tool, dst)
    assert result.returncode == 2
    assert "tensor 'w'" in result.stderr and "claims 40 bytes" in result.stderr


def test_open_clip_vit_b_32(dump_tool, tmp_path):
    import open_clip
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(model.state_dict(), path)
    del model
    loaded = torch.load(path, weights_only=True)
    got = dump(dump_tool, path)
    assert "visual.conv1.weight" in got and "logit_scale" in got
    assert_same(got, loaded)
