"""load_efficientnet_b0: torchvision's and timm's own EfficientNet-B0 (random weights, random BN statistics)
are the oracle; our model loaded from their state_dicts must compute the same function in eval mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from igpw_viz import convert, count_parameters, keffnet_b0, load_efficientnet_b0

ROOT = Path(__file__).resolve().parents[1]
WHEELS = Path(os.environ.get("IGPW_REFERENCE_WHEELS", ROOT / ".cache" / "reference-wheels"))
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict:
    """source -> state_dict, inputs and outputs of the real model (built in a subprocess)."""
    out = tmp_path_factory.mktemp("reference") / "models.pt"
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "reference_models.py"), str(WHEELS), str(out)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:  # fail, not skip: scripts/setup.sh downloads the wheels in CI
        pytest.fail(f"building the reference models failed:\n{run.stdout}\n{run.stderr}")
    return torch.load(out, weights_only=True)


def _max_error(model, ref) -> float:
    model.eval()
    with torch.no_grad():
        return max((model(x) - ref["outputs"][size]).abs().max().item() for size, x in ref["inputs"].items())


@pytest.mark.parametrize("source", ["torchvision", "timm", "timm-tf"])
def test_same_function_as_the_source(references, source):
    ref = references[source]
    model = load_efficientnet_b0(ref["state_dict"], source=source)
    assert _max_error(model, ref) <= TOLERANCE
    eps = {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == ({1e-3} if source == "timm-tf" else {1e-5})
    assert model.num_classes == 1000 and count_parameters(model) == 5_288_548


@pytest.mark.parametrize("source", ["torchvision", "timm"])
def test_auto_tells_the_layouts_apart(references, source):
    assert _max_error(load_efficientnet_b0(references[source]["state_dict"]), references[source]) <= TOLERANCE


def test_tf_weights_need_their_conventions(references):
    """timm's tf_ names equal timm's: auto takes the PyTorch conventions, which compute something else."""
    ref = references["timm-tf"]
    assert _max_error(load_efficientnet_b0(ref["state_dict"]), ref) > 1e-4


def test_files_checkpoints_and_prefixes(references, tmp_path):
    from safetensors.torch import save_file

    ref = references["timm"]
    sd = ref["state_dict"]
    wrapped = tmp_path / "checkpoint.pth"  # a training checkpoint of a DDP-wrapped, compiled model
    torch.save({"epoch": 3, "state_dict": {f"module._orig_mod.{k}": v for k, v in sd.items()}}, wrapped)
    st = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(st))
    for path in (wrapped, str(st)):
        assert _max_error(load_efficientnet_b0(path), ref) <= TOLERANCE
    tv = tmp_path / "tv.pth"
    torch.save({"model": references["torchvision"]["state_dict"]}, tv)  # torchvision's reference scripts
    assert _max_error(load_efficientnet_b0(tv), references["torchvision"]) <= TOLERANCE


def test_older_checkpoints_without_num_batches_tracked(references):
    ref = references["torchvision"]
    sd = {k: v for k, v in ref["state_dict"].items() if not k.endswith("num_batches_tracked")}
    assert _max_error(load_efficientnet_b0(sd), ref) <= TOLERANCE


@pytest.mark.parametrize("source", ["torchvision", "timm"])
def test_new_head_keeps_the_features(references, source):
    ref = references[source]
    model = load_efficientnet_b0(ref["state_dict"], num_classes=10, dropout=0.3).eval()
    assert model.num_classes == 10 and model.classifier[-1].weight.shape == (10, 1280)
    assert model.classifier[0].p == 0.3
    full = load_efficientnet_b0(ref["state_dict"]).eval()
    x = ref["inputs"][224]
    with torch.no_grad():
        assert torch.equal(model.features(x), full.features(x))
    same = load_efficientnet_b0(ref["state_dict"], num_classes=1000)  # the checkpoint's own head is kept
    assert torch.equal(same.classifier[-1].weight, full.classifier[-1].weight)


def test_recipe_imagenet_weights_to_keffnet(references):
    """The documented recipe: load, convert with init='dense', fine-tune: a kEffNet-B0 V2-16 at 10 classes."""
    model = load_efficientnet_b0(references["timm"]["state_dict"], num_classes=10)
    slim, report = convert(model, 16, "v2", init="dense")
    assert count_parameters(slim) == count_parameters(keffnet_b0(10, 16, "v2")) == 623_226
    errors = [row.fit_error for row in report.layers if row.fit_error is not None]
    assert len(errors) == 55 and all(0.0 <= e <= 1.0 for e in errors)
    slim.train()
    x, t = references["timm"]["inputs"][224], torch.tensor([1, 2])
    loss = torch.nn.functional.cross_entropy(slim(x), t)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in slim.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- bad input: one clear line
def test_wrong_source_and_arguments(references):
    tv = references["torchvision"]["state_dict"]
    with pytest.raises(ValueError, match="has torchvision's parameter names, not timm"):
        load_efficientnet_b0(tv, source="timm")
    with pytest.raises(ValueError, match="has timm's parameter names, not torchvision"):
        load_efficientnet_b0(references["timm"]["state_dict"], source="torchvision")
    with pytest.raises(ValueError, match="source must be"):
        load_efficientnet_b0(tv, source="keras")
    with pytest.raises(ValueError, match="conventions follows source"):
        load_efficientnet_b0(tv, conventions="keras")
    with pytest.raises(ValueError, match="num_classes"):
        load_efficientnet_b0(tv, num_classes=0)


def test_foreign_or_damaged_state_dicts(references):
    tv = dict(references["torchvision"]["state_dict"])
    timm = dict(references["timm"]["state_dict"])
    with pytest.raises(ValueError, match=r"not an EfficientNet-B0 state_dict .* first names are fc\.weight"):
        load_efficientnet_b0({"fc.weight": torch.zeros(2, 2)})
    with pytest.raises(ValueError, match="misses features.3.0.block.1.0.weight"):
        load_efficientnet_b0({k: v for k, v in tv.items() if k != "features.3.0.block.1.0.weight"})
    with pytest.raises(ValueError, match=r"'blocks.7.0.conv_pw.weight' is not a parameter of timm"):
        load_efficientnet_b0({**timm, "blocks.7.0.conv_pw.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="has features.9.0.weight, which EfficientNet-B0 does not"):
        load_efficientnet_b0({**tv, "features.9.0.weight": torch.zeros(1)})
    wide = {**tv, "features.0.0.weight": torch.zeros(40, 3, 3, 3)}  # a B3 stem
    with pytest.raises(ValueError, match=r"features.0.0.weight has shape \(40, 3, 3, 3\).*not B1-B7"):
        load_efficientnet_b0(wide)
    with pytest.raises(ValueError, match="entry 'features.0.0.weight' is a str"):
        load_efficientnet_b0({**tv, "features.0.0.weight": "oops"})
    with pytest.raises(ValueError, match="no classifier weight"):
        load_efficientnet_b0({k: v for k, v in tv.items() if not k.startswith("classifier")})
    with pytest.raises(ValueError, match="not a non-empty mapping"):
        load_efficientnet_b0({})


def test_bad_files(references, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"state_dict file .*missing.pth does not exist"):
        load_efficientnet_b0(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        load_efficientnet_b0(tmp_path)
    good = tmp_path / "good.pth"
    torch.save(references["torchvision"]["state_dict"], good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"state_dict file .*cut.pth could not be read as a torch.save file"):
        load_efficientnet_b0(cut)
    evil = tmp_path / "evil.pth"  # a pickle that would run code: weights_only refuses it
    torch.save({"state_dict": {"x": subprocess.Popen}}, evil)
    with pytest.raises(ValueError, match=r"evil.pth could not be read"):
        load_efficientnet_b0(evil)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ValueError, match=r"bad.safetensors could not be read as safetensors"):
        load_efficientnet_b0(bad_st)
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(ValueError, match=r"list.pth is not a non-empty mapping .*got list"):
        load_efficientnet_b0(listing)
