"""The warning a user gets before a paper-protocol run silently lands on the CPU."""

from __future__ import annotations

import warnings

import pytest

from igpw_viz.training import preset, train
from igpw_viz.training.expect import CPU_IMAGES_PER_SECOND, cpu_epoch_seconds, warn_if_paper_run_on_cpu


def test_auto_on_cpu_for_a_paper_dataset_warns_with_the_measured_rate():
    cfg = preset("cifar10", "v2-16")
    assert cfg.device == "auto" and (cfg.image_size, cfg.skip_strides) == (32, 3)
    with pytest.warns(RuntimeWarning, match="no GPU found") as caught:
        message = warn_if_paper_run_on_cpu(cfg, "cpu", 45_000)
    minutes = 45_000 / CPU_IMAGES_PER_SECOND[("cifar10", "v2-16", 32, 3)] / 60
    assert f"about {minutes:.0f} min per epoch" in message and "45,000 images" in message
    assert str(caught[0].message) == message
    assert cpu_epoch_seconds(cfg, 45_000) == pytest.approx(minutes * 60)


@pytest.mark.parametrize("dataset,device,device_type,limit", [
    ("cifar10", "auto", "cuda", None),  # a GPU was found
    ("cifar10", "cpu", "cpu", None),  # the CPU was asked for
    ("digits", "auto", "cpu", None),  # the embedded set is meant for the CPU
    ("cifar10", "auto", "cpu", 2),  # a smoke run of two batches
])
def test_no_warning_when_the_user_knows(dataset, device, device_type, limit):
    cfg = preset(dataset, "v2-16", device=device, limit_train_batches=limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_paper_run_on_cpu(cfg, device_type, 1000) is None


def test_unmeasured_configuration_still_warns_without_a_number():
    cfg = preset("malaria", "v2-16", image_size=128)
    with pytest.warns(RuntimeWarning, match="75 epochs on the CPU"):
        warn_if_paper_run_on_cpu(cfg, "cpu", 1000)


def test_train_warns_through_the_real_loop(tmp_path):
    from igpw_viz.data.fixtures import load_smoke_dataset

    data = load_smoke_dataset("cifar10", tmp_path / "data", size=10)
    cfg = preset("cifar10", "v2-16", epochs=1, batch_size=8, image_size=32, progress=False,
                 limit_eval_batches=1)
    with pytest.warns(RuntimeWarning, match="cifar10 will train on the CPU"):
        train(cfg, tmp_path / "run", data=data)


def test_each_measured_model_has_its_own_rate():
    rates = {tag: cpu_epoch_seconds(preset("cifar10", tag, image_size=32, skip_strides=3), 1000)
             for tag in ("baseline", "v2-16", "v2-32", "v1-16")}
    assert rates["v1-16"] is None and rates["baseline"] is None  # not measured (B0 was at 224): no guess
    assert rates["v2-16"] == pytest.approx(1000 / CPU_IMAGES_PER_SECOND[("cifar10", "v2-16", 32, 3)])
    assert rates["v2-32"] == pytest.approx(1000 / CPU_IMAGES_PER_SECOND[("cifar10", "v2-32", 32, 3)])


def test_run_costs_lines_use_the_measured_rates():
    from igpw_viz.core.paper import PAPER_TRAIN_IMAGES
    from igpw_viz.training.expect import cpu_run_costs

    lines = cpu_run_costs("cifar10", ("v2-16", "v1-16"))
    epoch = cpu_epoch_seconds(preset("cifar10", "v2-16"), PAPER_TRAIN_IMAGES["cifar10"])
    assert f"{epoch / 60:5.0f} min/epoch" in lines[0] and "45,000 images" in lines[0]
    assert lines[1].endswith("CPU not measured")
