"""Smoke run of benchmarks/experiments.py --quick: every experiment runs, the markdown is
written, and the README section between the markers is replaced (and only it)."""
from __future__ import annotations

import importlib.util
import os

import pytest

pytest.importorskip("sklearn")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location("axf_experiments", os.path.join(ROOT, "benchmarks", "experiments.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_writes_tables_and_readme_section(tmp_path, capsys):
    exp = _load()
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{exp.README_START}\nold text\n{exp.README_END}\n\nafter\n",
                      encoding="utf-8")
    out = tmp_path / "results"
    assert exp.main(["--quick", "--out", str(out), "--readme", str(readme)]) == 0
    md = (out / "experiments.md").read_text(encoding="utf-8")
    for title in ("Paired vs contrastive", "Stress ablation", "Dimension boundary", "gamma sensitivity",
                  "Kernel sensitivity"):
        assert title in md
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# title\n\nbefore\n\n") and text.endswith(f"{exp.README_END}\n\nafter\n")
    assert "old text" not in text
    section = text.split(exp.README_START)[1].split(exp.README_END)[0]
    # sections one level below the last heading before the markers ("# title": "##")
    assert "\n## Stress ablation" in section and "| data |" in section
    # image links (when matplotlib made plots) point into the results folder, relative to the README
    for line in section.splitlines():
        if line.startswith("!["):
            assert "](results/" in line


def test_readme_without_markers_is_an_error(tmp_path):
    exp = _load()
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no experiments markers"):
        exp.update_readme(str(readme), ["# t", "## s"], "results")


def test_readme_sections_sit_below_the_heading_before_the_markers(tmp_path):
    exp = _load()
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n## Experiments\n\n{exp.README_START}\n{exp.README_END}\n", encoding="utf-8")
    exp.update_readme(str(readme), ["# page", "## Stress ablation", "text"], "results")
    section = readme.read_text(encoding="utf-8").split(exp.README_START)[1]
    assert "\n### Stress ablation" in section and "## Stress" not in section.replace("### Stress", "")
