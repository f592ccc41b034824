"""Damaged or edited model files (issue 10, item 6): every one raises a ValueError that names
the file and what is wrong; a file that loads is one ``save`` could have written."""
from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

from alignxpert_fast import AlignXpert
from alignxpert_fast.datasets import make_paired_modalities


@pytest.fixture(scope="module", params=["linear", "rbf"])
def saved(request, tmp_path_factory):
    (A, B), _ = make_paired_modalities(80, dims=(6, 4), n_latent=2, random_state=0)[:2]
    kw = {"n_landmarks": 20} if request.param == "rbf" else {}
    est = AlignXpert(3, max_iter=5, random_state=0, feature_map=request.param, **kw).fit([A, B])
    path = est.save(tmp_path_factory.mktemp("model") / "m.npz")
    return {"path": path, "est": est, "views": [A[:7], B[:7]], "raw": Path(path).read_bytes()}


def _members(raw):
    with np.load(io.BytesIO(raw), allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def _write(tmp_path, members, name="edited.npz"):
    p = tmp_path / name
    np.savez(p, **members)
    return p


def _edit_meta(members, fn):
    meta = json.loads(bytes(members["__meta__"]).decode())
    fn(meta)
    members = dict(members)
    members["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return members


def _fails(path, match):
    with pytest.raises(ValueError) as info:
        AlignXpert.load(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert match in msg, msg
    return msg


def test_round_trip_still_loads(saved):
    est = AlignXpert.load(saved["path"])
    for Z0, Z1 in zip(est.transform(saved["views"]), saved["est"].transform(saved["views"])):
        np.testing.assert_array_equal(Z0, Z1)


def test_empty_truncated_and_foreign_files(saved, tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _fails(empty, "not a readable .npz")
    for cut in (10, len(saved["raw"]) // 2, len(saved["raw"]) - 5):
        p = tmp_path / f"cut{cut}.npz"
        p.write_bytes(saved["raw"][:cut])
        _fails(p, ".npz")
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    _fails(npy, "not an .npz archive")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    _fails(text, "not a readable")
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(2))
    _fails(other, "not an AlignXpert model file")


def test_every_bit_flip_is_refused_or_harmless(saved, tmp_path):
    rng = random.Random(0)
    raw = saved["raw"]
    ref = saved["est"].transform(saved["views"])
    p = tmp_path / "flip.npz"
    loaded = 0
    for _ in range(150):
        b = bytearray(raw)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        p.write_bytes(bytes(b))
        try:
            est = AlignXpert.load(p)
        except ValueError as exc:
            assert str(p) in str(exc)
            continue
        loaded += 1  # a flip in zip metadata the CRC does not cover: the model must be unchanged
        for Z0, Z1 in zip(est.transform(saved["views"]), ref):
            np.testing.assert_array_equal(Z0, Z1)
    assert loaded < 150


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.clear() or m.update({"__list__": 1}), "format"),
    (lambda m: m.pop("fitted"), "missing header['fitted']"),
    (lambda m: m.pop("params"), "missing header['params']"),
    (lambda m: m["fitted"].pop("n_components"), "missing fitted['n_components']"),
    (lambda m: m["fitted"].pop("scales"), "missing fitted['scales']"),
    (lambda m: m["fitted"].update(scales=[0.0, 1.0]), "scales"),
    (lambda m: m["fitted"].update(scales=[1.0]), "scales"),
    (lambda m: m["fitted"].update(n_modalities="2"), "n_modalities"),
    (lambda m: m["fitted"].update(n_components=4), "shape"),
    (lambda m: m["fitted"].update(dtype="complex128"), "dtype"),
    (lambda m: m["fitted"].update(feature_maps=[]), "feature_maps"),
    (lambda m: m["params"].update(bogus=1), "bad params"),
    (lambda m: m["params"].update(alpha=-1), "bad params"),
    (lambda m: m.update(format_version=99), "newer format version"),
    (lambda m: m.update(format_version="1"), "format_version"),
])
def test_edited_header(saved, tmp_path, edit, match):
    _fails(_write(tmp_path, _edit_meta(_members(saved["raw"]), edit)), match)


def _old_format(meta, init_reg):
    """The header a format-2 file (before init_reg="auto") would have."""
    meta["format_version"] = 2
    meta["fitted"].pop("init_reg")
    meta["params"]["init_reg"] = init_reg


@pytest.mark.parametrize("init, expected", [("cca", 0.05), ("pca", None)])
def test_format_2_file_reports_the_ridge_its_start_used(saved, tmp_path, init, expected):
    """A file from before init_reg="auto" has no fitted ridge: a CCA start used the float
    of its params, the other starts none; it transforms as before."""
    def edit(meta):
        _old_format(meta, 0.05)
        meta["params"]["init"] = init

    est = AlignXpert.load(_write(tmp_path, _edit_meta(_members(saved["raw"]), edit)))
    assert est.init_reg_ == expected and est.init_reg == 0.05
    for a, b in zip(est.transform(saved["views"]), saved["est"].transform(saved["views"])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", ["auto", -1.0, float("nan"), True])
def test_bad_fitted_init_reg(saved, tmp_path, value):
    _fails(_write(tmp_path, _edit_meta(_members(saved["raw"]), lambda m: m["fitted"].update(init_reg=value))),
           "init_reg")


def test_header_that_is_not_a_json_object(saved, tmp_path):
    members = _members(saved["raw"])
    for text, match in ((b"[1, 2, 3]", "must be a JSON object"), (b"{not json", "not valid JSON"),
                        (b"\xff\xfe", "not valid JSON"), (b"null", "JSON object")):
        members["__meta__"] = np.frombuffer(text, np.uint8)
        _fails(_write(tmp_path, members), match)
    members["__meta__"] = np.zeros((2, 2), np.uint8)
    _fails(_write(tmp_path, members), "byte string")


@pytest.mark.parametrize("key, value, match", [
    ("W_0", "nan", "NaN or inf"),
    ("W_0", "inf", "NaN or inf"),
    ("W_0", "zero", "all zero"),
    ("W_0", "complex", "dtype"),
    ("W_0", "float64", "dtype"),
    ("W_0", "shape", "shape"),
    ("W_1", "transpose", "shape"),
    ("W_1", "missing", "missing array 'W_1'"),
    ("mean_0", "nan", "NaN or inf"),
    ("mean_0", "shape", "shape"),
    ("mean_1", "complex", "dtype"),
    ("mean_1", "missing", "missing array"),
    ("loss_curve", "missing", "missing array"),
    ("W_0", "object", "Object arrays cannot be loaded"),
])
def test_damaged_arrays(saved, tmp_path, key, value, match):
    members = _members(saved["raw"])
    a = members[key]
    if value == "nan":
        a = a.copy()
        a.flat[0] = np.nan
    elif value == "inf":
        a = a.copy()
        a.flat[-1] = np.inf
    elif value == "zero":
        a = np.zeros_like(a)
    elif value == "complex":
        a = a.astype(np.complex128)
    elif value == "float64":
        a = a.astype(np.float64)
    elif value == "shape":
        a = np.concatenate([a, a[:1]])
    elif value == "transpose":
        a = np.ascontiguousarray(a.T)
    elif value == "object":
        a = np.array([None, 1], dtype=object)
    if value == "missing":
        members.pop(key)
    else:
        members[key] = a
    if value == "object":  # np.savez pickles object arrays; load must not unpickle them
        p = tmp_path / "obj.npz"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for k, v in members.items():
                b = io.BytesIO()
                np.lib.format.write_array(b, v, allow_pickle=True)
                zf.writestr(k + ".npy", b.getvalue())
        p.write_bytes(buf.getvalue())
    else:
        p = _write(tmp_path, members)
    _fails(p, match)


def test_damaged_nystroem_arrays(saved, tmp_path):
    members = _members(saved["raw"])
    if "map_0_landmarks" not in members:
        pytest.skip("linear maps store no arrays")
    for key, change, match in (("map_0_landmarks", lambda a: a[:, :-1], "shape"),
                               ("map_0_normalization", lambda a: a * np.nan, "NaN"),
                               ("map_1_mean", lambda a: a[:-1], "shape")):
        m = dict(members)
        m[key] = np.ascontiguousarray(change(m[key]))
        _fails(_write(tmp_path, m), match)
    m = dict(members)
    m.pop("map_0_landmarks")
    _fails(_write(tmp_path, m), "landmarks")
