"""The command line (``python -m alignxpert_fast`` / ``alignxpert-fast``), run in-process."""
from __future__ import annotations

import numpy as np
import pytest

from alignxpert_fast.cli import main
from alignxpert_fast.datasets import make_paired_modalities


@pytest.fixture
def pair_files(tmp_path):
    """Tiny paired views (60 x 6, 60 x 4) as .npy files, the same as one .npz, and labels."""
    (A, B), _, y = make_paired_modalities(60, dims=(6, 4), n_latent=2, noise=0.05, random_state=0, n_classes=3,
                                          return_labels=True)
    a, b, lab, npz = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "y.npy", tmp_path / "views.npz"
    np.save(a, A)
    np.save(b, B)
    np.save(lab, y)
    np.savez(npz, left=A, right=B)
    return {"A": A, "B": B, "y": y, "a": str(a), "b": str(b), "labels": str(lab), "npz": str(npz),
            "dir": tmp_path}


def _fit(files, model, *extra):
    return main(["fit", "--views", files["a"], files["b"], "--model", str(model), "--n-components", "3",
                 "--max-iter", "15", "--random-state", "0", "--n-threads", "1", *extra])


def test_demo_quick_runs_and_prints_table(capsys):
    sklearn = pytest.importorskip("sklearn")  # noqa: F841  (ships the digits data)
    assert main(["demo", "--quick", "--max-iter", "3", "--n-threads", "1"]) == 0
    out = capsys.readouterr().out
    for text in ("method", "R@1", "R@10", "MRR", "P@10", "transfer", "fit (s)", "PCA per modality",
                 "PCA + Procrustes", "CCA (scikit-learn)", "AlignXpert defaults", "AlignXpert paired (paper)"):
        assert text in out
    row = next(line for line in out.splitlines() if line.startswith("AlignXpert defaults"))
    values = [float(v) for v in row.split()[2:]]
    assert len(values) == 7 and all(np.isfinite(values))
    assert all(0.0 <= v <= 1.0 for v in values[1:6])


def test_demo_is_the_default_command(capsys):
    pytest.importorskip("sklearn")
    assert main(["--quick", "--max-iter", "2", "--n-threads", "1", "--no-cca", "--no-contrastive"]) == 0
    out = capsys.readouterr().out
    assert "AlignXpert defaults" in out and "CCA (scikit-learn)" not in out and "paper" not in out


def test_run_demo_returns_rows():
    pytest.importorskip("sklearn")
    import io

    from alignxpert_fast.evaluation.demo import run_demo

    rows = run_demo(8, max_iter=2, n_threads=1, quick=True, contrastive=False, file=io.StringIO())
    assert [r["method"] for r in rows] == ["PCA per modality", "PCA + Procrustes", "CCA (scikit-learn)",
                                           "AlignXpert defaults"]
    for r in rows:
        assert r["k"] == 8 and set(r) >= {"R@1", "R@10", "MRR", "P@k", "transfer", "fit_time"}


def test_fit_transform_evaluate_round_trip(pair_files, capsys):
    from alignxpert_fast import AlignXpert

    model = pair_files["dir"] / "model.npz"
    assert _fit(pair_files, model) == 0
    out = capsys.readouterr().out
    assert "saved model to" in out and model.exists()
    est = AlignXpert.load(model)
    assert est.n_components_ == 3 and est.n_features_in_ == [6, 4] and est.max_iter == 15

    # transform both views -> .npz with Z_0, Z_1, equal to the estimator's transform
    zout = pair_files["dir"] / "Z.npz"
    assert main(["transform", "--model", str(model), "--views", pair_files["a"], pair_files["b"],
                 "--output", str(zout)]) == 0
    with np.load(zout) as z:
        assert z.files == ["Z_0", "Z_1"]
        expected = est.transform([pair_files["A"], pair_files["B"]])
        np.testing.assert_allclose(z["Z_0"], expected[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(z["Z_1"], expected[1], rtol=1e-5, atol=1e-6)

    # one modality -> .npy
    zb = pair_files["dir"] / "Zb.npy"
    assert main(["transform", "--model", str(model), "--views", pair_files["b"], "--modality", "1",
                 "-o", str(zb)]) == 0
    np.testing.assert_allclose(np.load(zb), expected[1], rtol=1e-5, atol=1e-6)

    # evaluate with labels: every ordered pair, all metrics
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--views", pair_files["a"], pair_files["b"],
                 "--labels", pair_files["labels"], "--k", "5"]) == 0
    out = capsys.readouterr().out
    assert "0 -> 1" in out and "1 -> 0" in out
    for text in ("R@1", "R@5", "R@10", "MRR", "P@5"):
        assert text in out
    row = next(line for line in out.splitlines() if line.startswith("0 -> 1"))
    vals = [float(v) for v in row.split()[3:]]
    assert len(vals) == 5 and all(0.0 <= v <= 1.0 for v in vals)


def test_fit_from_npz_keeps_key_order_and_names(pair_files, capsys):
    model = pair_files["dir"] / "m2.npz"
    assert main(["fit", "--views", pair_files["npz"], "--model", str(model), "--n-components", "2",
                 "--max-iter", "5", "--similarity", "contrastive", "--kernel", "cosine", "--alpha", "0.5",
                 "--lam", "0.01", "--solver", "lbfgs", "--random-state", "1", "--n-threads", "1"]) == 0
    zout = pair_files["dir"] / "Zn.npz"
    assert main(["transform", "--model", str(model), "--views", pair_files["npz"], "--output", str(zout)]) == 0
    with np.load(zout) as z:
        assert z.files == ["left", "right"] and z["left"].shape == (60, 2) and z["right"].shape == (60, 2)
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--views", pair_files["npz"]]) == 0
    out = capsys.readouterr().out
    assert "left -> right" in out and "right -> left" in out and "P@" not in out


def test_fit_auto_dimension_prints_scan(pair_files, capsys):
    model = pair_files["dir"] / "auto.npz"
    assert main(["fit", "--views", pair_files["a"], pair_files["b"], "--model", str(model), "--n-components",
                 "auto", "--max-iter", "5", "--random-state", "0", "--n-threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "dimension search" in out


def _error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code not in (0, None)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_arguments_exit_with_a_message(pair_files, capsys, tmp_path):
    a, b = pair_files["a"], pair_files["b"]
    model = str(tmp_path / "m.npz")
    assert "file not found" in _error(["fit", "--views", a, str(tmp_path / "nope.npy"), "--model", model], capsys)
    assert "--n-components" in _error(["fit", "--views", a, b, "--model", model, "--n-components", "0"], capsys)
    assert "--n-components" in _error(["fit", "--views", a, b, "--model", model, "--n-components", "x"], capsys)
    assert "--kernel" in _error(["fit", "--views", a, b, "--model", model, "--kernel", "sigmoid"], capsys)
    assert "--alpha" in _error(["fit", "--views", a, b, "--model", model, "--alpha", "-1"], capsys)
    assert "--n-threads" in _error(["fit", "--views", a, b, "--model", model, "--n-threads", "0"], capsys)
    assert "--model" in _error(["fit", "--views", a, b], capsys)  # required
    assert ".npz" in _error(["fit", "--views", a, b, "--model", str(tmp_path / "m.txt")], capsys)
    assert "at least two" in _error(["fit", "--views", a, "--model", model], capsys)
    assert "not a mix" in _error(["fit", "--views", a, pair_files["npz"], "--model", model], capsys)
    bad = tmp_path / "bad.npy"
    bad.write_text("not an array")
    assert "cannot read" in _error(["fit", "--views", a, str(bad), "--model", model], capsys)
    short = tmp_path / "short.npy"
    np.save(short, pair_files["B"][:10])
    assert "same number of rows" in _error(["fit", "--views", a, str(short), "--model", model], capsys)
    assert "invalid choice" in _error(["frobnicate"], capsys)
    assert "--test-size" in _error(["demo", "--test-size", "1.5"], capsys)


def test_transform_and_evaluate_errors(pair_files, capsys, tmp_path):
    a, b = pair_files["a"], pair_files["b"]
    model = tmp_path / "m.npz"
    assert _fit(pair_files, model) == 0
    capsys.readouterr()
    out = str(tmp_path / "Z.npz")
    assert "file not found" in _error(["transform", "--model", str(tmp_path / "none.npz"), "--views", a, b,
                                       "--output", out], capsys)
    assert "not an AlignXpert model" in _error(["transform", "--model", pair_files["npz"], "--views", a, b,
                                                "--output", out], capsys)
    # views swapped: widths do not match the fitted modalities
    assert "features" in _error(["transform", "--model", str(model), "--views", b, a, "--output", out], capsys)
    assert ".npz output" in _error(["transform", "--model", str(model), "--views", a, b, "--output",
                                    str(tmp_path / "Z.npy")], capsys)
    assert "--output" in _error(["transform", "--model", str(model), "--views", a, b, "--output",
                                 str(tmp_path / "Z.csv")], capsys)
    assert "exactly one" in _error(["transform", "--model", str(model), "--views", a, b, "--modality", "0",
                                    "--output", out], capsys)
    assert "modality" in _error(["transform", "--model", str(model), "--views", a, "--modality", "5",
                                 "--output", out], capsys)
    short = tmp_path / "short.npy"
    np.save(short, pair_files["B"][:10])
    assert "same number of rows" in _error(["evaluate", "--model", str(model), "--views", a, str(short)], capsys)
    labels = tmp_path / "lab.npy"
    np.save(labels, np.arange(7))
    assert "--labels" in _error(["evaluate", "--model", str(model), "--views", a, b, "--labels", str(labels)],
                                capsys)


def test_config_and_bench_kernels(capsys):
    assert main(["config"]) == 0
    assert "backend" in capsys.readouterr().out
    assert main(["bench-kernels", "--n", "64", "--backends", "reference", "--n-threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "rbf_kernel" in out and "stress_and_grad" in out
    _error(["bench-kernels", "--n", "1"], capsys)


def _one_line_error(argv, capsys):
    """Exit status 2, exactly one line on stderr, no traceback."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2, info.value.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_bad_files_and_arguments_give_one_line_and_status_2(pair_files, capsys, tmp_path):
    import json
    import os
    import subprocess
    import sys

    a, b = pair_files["a"], pair_files["b"]
    model = tmp_path / "m.npz"
    assert _fit(pair_files, model) == 0
    capsys.readouterr()
    out = str(tmp_path / "Z.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(model.read_bytes()[:200])
    listhead = tmp_path / "list.npz"
    np.savez(listhead, __meta__=np.frombuffer(json.dumps([1, 2]).encode(), np.uint8))
    npy = tmp_path / "model.npy"
    np.save(npy, np.ones(3))
    for bad in (corrupt, listhead, npy):
        for cmd in (["transform", "--model", str(bad), "--views", a, b, "--output", out],
                    ["evaluate", "--model", str(bad), "--views", a, b]):
            assert "--model" in _one_line_error(cmd, capsys)
    d = tmp_path / "dir.npz"
    d.mkdir()
    assert "is a directory" in _one_line_error(["fit", "--views", a, b, "--model", str(d)], capsys)
    assert "is a directory" in _one_line_error(["transform", "--model", str(model), "--views", a, b,
                                                "--output", str(d)], capsys)
    assert "--model" in _one_line_error(["transform", "--model", str(d), "--views", a, b, "--output", out], capsys)
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if not os.access(ro, os.W_OK):  # root may write anyway
            assert "cannot write" in _one_line_error(["fit", "--views", a, b, "--model", str(ro / "m.npz")], capsys)
    finally:
        os.chmod(ro, 0o700)
    assert "directory does not exist" in _one_line_error(
        ["fit", "--views", a, b, "--model", str(tmp_path / "no" / "m.npz")], capsys)
    badviews = tmp_path / "views.npz"
    badviews.write_bytes(b"PK\x03\x04garbage")
    assert "--views" in _one_line_error(["fit", "--views", str(badviews), "--model", str(model)], capsys)
    assert "unknown backend 'bogus'" in _one_line_error(["bench-kernels", "--n", "8", "--backends", "bogus"], capsys)
    assert "--backends" in _one_line_error(["bench-kernels", "--n", "8", "--backends", ""], capsys)
    assert "--backends" in _one_line_error(["bench-kernels", "--n", "8", "--backends", "native,"], capsys)
    assert "--n-components" in _one_line_error(["fit", "--views", a, b, "--model", str(model), "--n-components",
                                                "0"], capsys)
    assert "invalid choice" in _one_line_error(["frobnicate"], capsys)
    # the same through the real entry point: status 2 and one stderr line
    r = subprocess.run([sys.executable, "-m", "alignxpert_fast", "transform", "--model", str(corrupt), "--views",
                        a, b, "--output", out], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
