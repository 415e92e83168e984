"""results.py on hand-written run folders: loading, the comparison table, figures without pyplot."""

import json

from matplotlib.figure import Figure

from igpw_viz import results
from igpw_viz.training.checkpoint import write_history


def fake_run(folder, model, scheme, ch, params, test_acc):
    folder.mkdir(parents=True)
    cfg = {"dataset": "digits", "model": model, "scheme": scheme, "channels_per_group": ch}
    (folder / "config.json").write_text(json.dumps({"config": cfg, "params": params, "macs": 1000}))
    write_history(folder / "history.csv", [
        {"epoch": e + 1, "lr": 1e-3, "train_loss": 1.0 / (e + 1), "train_acc": 0.5 + 0.1 * e,
         "val_loss": 1.0, "val_acc": 0.4 + 0.1 * e, "epoch_time_s": 2.0, "images_per_s": 100.0, "best": 1}
        for e in range(3)])
    (folder / "metrics.json").write_text(json.dumps({"params": params, "macs": 1000, "test_acc": test_acc,
                                                     "best_val_acc": 0.6}))


def test_load_compare_plot(tmp_path):
    fake_run(tmp_path / "g" / "baseline", "efficientnet_b0", "v2", 16, 4_020_358, 0.95)
    fake_run(tmp_path / "g" / "v2-16", "keffnet_b0", "v2", 16, 623_226, 0.94)
    runs = results.load_runs(tmp_path / "g")
    assert [r.label for r in runs] == ["EfficientNet-B0", "kEffNet-B0 V2-16"]
    assert len(results.load_runs(str(tmp_path / "g" / "*"))) == 2
    rows = results.compare_runs(runs)
    assert rows[1]["params"] == 623_226 and rows[1]["test_acc"] == 0.94 and rows[0]["s_per_epoch"] == 2.0
    table = results.format_table(rows)
    assert "623,226" in table and "94.00%" in table and "15.5%" in table
    fig = results.plot_learning_curves(runs)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 4
    fig2 = results.plot_accuracy_vs_parameters(runs, paper=True)
    assert isinstance(fig2, Figure)
    txt, png = results.save_comparison(runs, tmp_path / "g")
    assert png.stat().st_size > 1000 and "EfficientNet-B0" in txt.read_text()


def test_missing_runs_is_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="no run folders"):
        results.load_runs(tmp_path / "nothing")
