"""Export: the block (both faces, unfused and fused) and a converted network go through torch.export and
torch.onnx.export, and onnxruntime computes what PyTorch computes; the fused block is one Conv."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from igpw_viz import InterleavedGroupedPointwise
from igpw_viz.nn.convert import convert

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from test_convert import resnet_like  # noqa: E402 - the test network lives with the convert tests


def _onnx_roundtrip(module: torch.nn.Module, x: torch.Tensor, path) -> tuple[float, list[str]]:
    """Max |onnxruntime - PyTorch| and the ONNX graph's op types."""
    torch.onnx.export(module, (x,), str(path), dynamo=True, verbose=False)
    graph = onnx.load(str(path)).graph
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        want = module(x).numpy()
    return float(np.abs(got - want).max()), [n.op_type for n in graph.node]


@pytest.mark.parametrize("implementation", ["auto", "readable"])
@pytest.mark.parametrize("shape", [(240, 40, 16, "v2"), (40, 240, 16, "v2"), (96, 4, 16, "v1")])
def test_block_exports_to_onnx_and_torch_export(shape, implementation, tmp_path):
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(*shape, implementation=implementation).eval()
    x = torch.randn(2, shape[0], 7, 7)
    err, ops = _onnx_roundtrip(layer, x, tmp_path / "block.onnx")
    print(f"{shape} {implementation}: onnxruntime max abs error {err:.2e}, {len(ops)} ONNX nodes")
    assert err < 1e-4 and ops  # the fast face exports its CPU forms (matmuls), the readable one grouped Convs
    program = torch.export.export(layer, (x,))
    with torch.no_grad():
        assert (program.module()(x) - layer(x)).abs().max().item() < 1e-5


def test_fused_block_is_one_conv(tmp_path):
    torch.manual_seed(0)
    layer = InterleavedGroupedPointwise(240, 40, 16).eval()
    fused = layer.fuse()
    x = torch.randn(2, 240, 7, 7)
    err, ops = _onnx_roundtrip(fused, x, tmp_path / "fused.onnx")
    assert ops == ["Conv"] and err < 1e-4
    with torch.no_grad():
        assert (fused(x) - layer(x)).abs().max().item() < 1e-4


def test_converted_network_exports(tmp_path):
    torch.manual_seed(0)
    net, report = convert(resnet_like(), 16)
    net.eval()
    x = torch.randn(2, 3, 16, 16)
    err, ops = _onnx_roundtrip(net, x, tmp_path / "net.onnx")
    print(f"converted ResNet-style net ({len(report.grouped)} blocks): onnxruntime max abs error {err:.2e}")
    assert err < 1e-4
    program = torch.export.export(net, (x,))
    with torch.no_grad():
        assert (program.module()(x) - net(x)).abs().max().item() < 1e-5
