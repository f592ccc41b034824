"""The plotting module and the CLI's --plot, on small data (matplotlib comes with the
test extra)."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from alignxpert_fast import AlignXpert  # noqa: E402
from alignxpert_fast.cli import main  # noqa: E402
from alignxpert_fast.evaluation.plots import (plot_dimension_search, plot_loss_curve, plot_recall_curves,  # noqa: E402
                                              recall_curve)


def _views(n=60, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((n, 3))
    return [L @ rng.standard_normal((3, 6)), L @ rng.standard_normal((3, 5)) + 0.1 * rng.standard_normal((n, 5))]


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_loss_curve_has_the_loss_and_its_terms(tmp_path):
    est = AlignXpert(3, max_iter=15, random_state=0).fit(_views())
    fig = plot_loss_curve(est)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[0] == "loss" and "- similarity" in labels and "alpha * stress" in labels
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), est.loss_curve_)
    fig.savefig(tmp_path / "loss.png")
    assert _is_png(tmp_path / "loss.png")


def test_dimension_search_plot_marks_the_choice(tmp_path):
    est = AlignXpert("auto", dimension_grid=[1, 2, 4], max_iter=10, random_state=0).fit(_views())
    fig = plot_dimension_search(est)
    xs = fig.axes[0].get_lines()[0].get_xdata()
    assert list(xs) == [1, 2, 4]
    fig.savefig(tmp_path / "scan.png")
    with pytest.raises(ValueError, match="no dimension search"):
        plot_dimension_search(AlignXpert(2, max_iter=5).fit(_views()))


def test_recall_curve_matches_recall_at_k(tmp_path):
    from alignxpert_fast.metrics import recall_at_k

    Za, Zb = _views(n=40)[0][:, :5], _views(n=40)[1]
    ks, rec = recall_curve(Za, Zb, ks=[1, 5, 10])
    assert [recall_at_k(Za, Zb, k) for k in (1, 5, 10)] == pytest.approx(list(rec))
    assert np.all(np.diff(recall_curve(Za, Zb)[1]) >= 0)
    plot_recall_curves({"a": (ks, rec)}).savefig(tmp_path / "r.png")
    assert _is_png(tmp_path / "r.png")


def test_cli_fit_plot(tmp_path, capsys):
    a, b = _views()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "curve.png"
    assert main(["fit", "--views", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--model",
                 str(tmp_path / "m.npz"), "--n-components", "3", "--max-iter", "10", "--plot", str(out)]) == 0
    assert _is_png(out) and "loss curve written to" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["fit", "--views", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--model",
              str(tmp_path / "m.npz"), "--plot", str(tmp_path / "curve.txt")])
    assert info.value.code == 2
