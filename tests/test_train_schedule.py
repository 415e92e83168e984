"""The cyclic schedule against values computed by hand from the spec's formula; config validation."""

import math

import pytest
import torch

from igpw_viz.training import CyclicLR, CyclicSchedule, TrainConfig, parse_model_tag, preset


def hand(epoch: int, period: int, floor: float | None = None) -> float:
    ell = epoch % period
    lr = 1e-3 * (1 + 0.5 * ell) if ell < 7 else 4e-3 * 0.85 ** (ell - 7)
    return max(lr, floor) if floor is not None else lr


@pytest.mark.parametrize("epoch,expected", [(0, 1e-3), (1, 1.5e-3), (6, 4e-3), (7, 4e-3), (8, 3.4e-3),
                                            (10, 4e-3 * 0.85 ** 3), (24, 4e-3 * 0.85 ** 17), (25, 1e-3),
                                            (32, 4e-3), (49, 4e-3 * 0.85 ** 17)])
def test_period_25_values(epoch, expected):
    assert math.isclose(CyclicSchedule(period=25).lr(epoch), expected, rel_tol=1e-12)


def test_floor_and_period_30():
    s = CyclicSchedule(period=30, floor=2.5245e-4)
    # the floor is the last value of a 25-epoch cycle: 4e-3 * 0.85**17 = 2.52454e-4; 0.85**18 is below it
    assert math.isclose(s.lr(24), 4e-3 * 0.85 ** 17) and 4e-3 * 0.85 ** 18 < 2.5245e-4
    assert s.lr(25) == 2.5245e-4 and s.lr(29) == 2.5245e-4 and s.lr(30) == 1e-3
    for e in range(180):
        assert math.isclose(s.lr(e), hand(e, 30, 2.5245e-4), rel_tol=1e-12)
    for e in range(100):
        assert math.isclose(CyclicSchedule(period=25, floor=2.5245e-4).lr(e), hand(e, 25, 2.5245e-4))


def test_scheduler_state_roundtrip():
    opt = torch.optim.RMSprop([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sch = CyclicLR(opt, CyclicSchedule(period=25))
    for _ in range(9):
        opt.step()
        sch.step()
    assert math.isclose(opt.param_groups[0]["lr"], hand(9, 25))
    opt2 = torch.optim.RMSprop([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sch2 = CyclicLR(opt2, CyclicSchedule(period=7))
    sch2.load_state_dict(sch.state_dict())
    assert sch2.schedule == CyclicSchedule(period=25) and sch2.last_epoch == 9


def test_presets_follow_the_paper():
    c = preset("cifar10", "v2-32")
    assert (c.batch_size, c.epochs, c.lr_period, c.lr_floor, c.image_size, c.skip_strides) == (64, 50, 25, None,
                                                                                                32, 3)
    assert (c.rmsprop_alpha, c.rmsprop_eps, c.momentum, c.label_smoothing) == (0.9, 1e-7, 0.0, 0.0)
    b = preset("cifar10", "baseline")
    assert (b.model, b.image_size, b.skip_strides) == ("efficientnet_b0", 224, 0)
    m = preset("malaria", "v2-16")
    assert (m.epochs, m.lr_floor, m.select_metric, m.image_size) == (75, 2.5245e-4, "val_loss", 224)
    k = preset("colorectal", "v2-16", epochs=3)
    assert (k.dataset, k.epochs) == ("colorectal_histology", 3)


@pytest.mark.parametrize("kwargs", [dict(dataset="mnist"), dict(model="resnet"), dict(scheme="v3"),
                                    dict(batch_size=0), dict(epochs=-1), dict(image_size=4),
                                    dict(image_size=8, skip_strides=0), dict(lr=0.0), dict(select_metric="f1"),
                                    dict(device="tpu"), dict(augment="heavy"), dict(dropout=1.5)])
def test_bad_configs_rejected(kwargs):
    with pytest.raises(ValueError):
        TrainConfig(**kwargs)


def test_model_tags():
    assert parse_model_tag("baseline") == {"model": "efficientnet_b0"}
    assert parse_model_tag("V1-32") == {"model": "keffnet_b0", "scheme": "v1", "channels_per_group": 32}
    assert parse_model_tag("keffnet-v2-8")["channels_per_group"] == 8
    with pytest.raises(ValueError):
        parse_model_tag("v3-16")
