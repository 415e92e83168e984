"""results.py on hand-written run folders: loading, the comparison table, figures without pyplot."""

import json

from matplotlib.figure import Figure

from igpw_viz.core import paper
from igpw_viz.training import results
from igpw_viz.training.checkpoint import write_history


def fake_run(folder, model, scheme, ch, params, test_acc, dataset="digits"):
    folder.mkdir(parents=True)
    cfg = {"dataset": dataset, "model": model, "scheme": scheme, "channels_per_group": ch}
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


def test_paper_results_hold_every_published_accuracy():
    acc = {(p.dataset, p.tag, p.epochs, p.tta): p.accuracy for p in paper.PAPER_RESULTS}
    assert len(acc) == len(paper.PAPER_RESULTS) == 16
    assert paper.paper_accuracies("cifar10") == {
        "baseline": 93.33, "v1-16": 92.46, "v2-16": 92.61, "v1-32": 93.61, "v2-32": 93.67,
        "v2-2": 84.36, "v2-4": 87.66, "v2-8": 90.53}
    assert paper.paper_accuracies("cifar10", 180) == {"baseline": 94.86, "v2-32": 94.45}
    assert acc[("cifar10", "v2-32", 180, True)] == 94.95
    assert paper.paper_accuracies("colorectal_histology") == {"baseline": 97.61, "v2-16": 97.62}
    assert paper.paper_accuracies("malaria") == {"baseline": 97.39, "v2-16": 97.61, "v2-32": 97.57}
    assert paper.paper_accuracies("digits") == {}
    # the old name keeps its five CIFAR-10 points
    assert paper.PAPER_CIFAR10 == (("EfficientNet-B0", 4_020_358, 93.33), ("V1-16", 639_702, 92.46),
                                     ("V2-16", 623_226, 92.61), ("V1-32", 1_059_202, 93.61),
                                     ("V2-32", 950_650, 93.67))


def test_paper_parameter_counts_match_the_models():
    from igpw_viz.nn.counting import count_parameters
    from igpw_viz.nn.models import efficientnet_b0, keffnet_b0

    classes = {"cifar10": 10, "colorectal_histology": 8, "malaria": 2}
    spec_counts = {("baseline", 10): 4_020_358, ("baseline", 8): 4_017_796, ("baseline", 2): 4_010_110,
                   ("v1-16", 10): 639_702, ("v2-16", 10): 623_226, ("v1-32", 10): 1_059_202,
                   ("v2-32", 10): 950_650}
    built: dict = {}
    for p in paper.PAPER_RESULTS:
        n = classes[p.dataset]
        if (p.tag, n) in spec_counts:
            assert p.params == spec_counts[(p.tag, n)], p
        if (p.tag, n) not in built:
            if p.tag == "baseline":
                model = efficientnet_b0(n)
            else:
                scheme, ch = p.tag.split("-")
                model = keffnet_b0(n, int(ch), scheme)
            built[(p.tag, n)] = count_parameters(model)
        assert p.params == built[(p.tag, n)], p


def _paper_points(fig):
    ax = fig.axes[0]
    return {float(y) for c in ax.collections if "paper" in c.get_label() for _, y in c.get_offsets()}, \
        [c.get_label() for c in ax.collections if "paper" in c.get_label()]


def test_accuracy_plot_shows_the_paper_points_of_the_runs_dataset(tmp_path):
    fake_run(tmp_path / "m" / "baseline", "efficientnet_b0", "v2", 16, 4_010_110, 0.97, dataset="malaria")
    fake_run(tmp_path / "m" / "v2-16", "keffnet_b0", "v2", 16, 612_978, 0.96, dataset="malaria")
    ys, labels = _paper_points(results.plot_accuracy_vs_parameters(results.load_runs(tmp_path / "m")))
    assert ys == {97.39, 97.61, 97.57} and labels == ["paper, malaria (75 epochs)"]
    fake_run(tmp_path / "c" / "v2-32", "keffnet_b0", "v2", 32, 950_650, 0.9, dataset="cifar10")
    ys, labels = _paper_points(results.plot_accuracy_vs_parameters(results.load_runs(tmp_path / "c")))
    assert labels == ["paper, CIFAR-10 (50 epochs)", "paper, CIFAR-10 (180 epochs)"]
    assert 93.33 in ys and 94.86 in ys and 94.95 not in ys  # TTA is not a separate point
    # digits: the paper does not report them; its CIFAR-10 50-epoch points are the reference
    fake_run(tmp_path / "d" / "v2-16", "keffnet_b0", "v2", 16, 623_226, 0.9)
    ys, labels = _paper_points(results.plot_accuracy_vs_parameters(results.load_runs(tmp_path / "d")))
    assert labels == ["paper, CIFAR-10 (50 epochs)"] and 92.61 in ys
    fig = results.plot_accuracy_vs_parameters(results.load_runs(tmp_path / "d"), paper=False)
    assert _paper_points(fig) == (set(), [])
