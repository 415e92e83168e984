"""torchvision's and timm's own EfficientNet-B0, built from their wheels, run in a separate process.

The torchvision wheel that matches the pinned torch is a CUDA build whose C extension does not load
beside the CPU torch, so its package ``__init__`` files cannot run. Its model code is pure Python: this
script registers empty parent packages pointing into the unpacked wheel, imports only the modules the
models need, builds each model with random weights and random BatchNorm statistics, and saves the
state_dicts with inputs and eval-mode outputs for `tests/test_pretrained.py`. It runs in a subprocess so
that these half-imported packages never meet the test process (torch.export and dynamo look for
torchvision). Usage: ``python tests/reference_models.py WHEEL_DIR OUT_FILE``.
"""

from __future__ import annotations

import importlib
import sys
import types
import zipfile
from pathlib import Path

WHEELS = ("torchvision-0.28.0-", "timm-1.0.31-")  # the versions scripts/setup.sh downloads
MODELS = {"torchvision": ("torchvision", "efficientnet_b0"), "timm": ("timm", "efficientnet_b0"),
          "timm-tf": ("timm", "tf_efficientnet_b0")}
SIZES = (224, 193)  # even and odd: the two padding rules differ on both


def _unpack(wheel_dir: Path, dest: Path) -> None:
    for prefix in WHEELS:
        wheels = sorted(wheel_dir.glob(f"{prefix}*.whl"))
        if not wheels:
            raise SystemExit(f"no {prefix}*.whl in {wheel_dir}: run scripts/setup.sh")
        with zipfile.ZipFile(wheels[0]) as zf:
            zf.extractall(dest)


def _import_torchvision_models(site: Path) -> types.ModuleType:
    """torchvision.models.efficientnet without running torchvision's, .ops' or .models' __init__."""
    for name in ("torchvision", "torchvision.ops", "torchvision.models"):
        module = types.ModuleType(name)
        module.__path__ = [str(site / name.replace(".", "/"))]
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    ops = sys.modules["torchvision.ops"]
    ops.StochasticDepth = importlib.import_module("torchvision.ops.stochastic_depth").StochasticDepth
    return importlib.import_module("torchvision.models.efficientnet")


def _randomize_bn(model, generator) -> None:
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(n, generator=generator) * 0.1)


def main(wheel_dir: Path, out: Path) -> None:
    import tempfile

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        _unpack(wheel_dir, site)
        sys.path.insert(0, str(site))
        tv = _import_torchvision_models(site)
        import timm

        builders = {"torchvision": tv.efficientnet_b0, "timm": lambda: timm.create_model("efficientnet_b0"),
                    "timm-tf": lambda: timm.create_model("tf_efficientnet_b0")}
        g = torch.Generator().manual_seed(0)
        results = {}
        for source, build in builders.items():
            torch.manual_seed(len(results))
            model = build()
            _randomize_bn(model, g)
            model.eval()
            inputs = {s: torch.randn(2, 3, s, s, generator=g) for s in SIZES}
            with torch.no_grad():
                outputs = {s: model(x) for s, x in inputs.items()}
            results[source] = {"state_dict": model.state_dict(), "inputs": inputs, "outputs": outputs,
                               "module": type(model).__module__}
        torch.save(results, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
