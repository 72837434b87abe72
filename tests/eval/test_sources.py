"""Tests for mlsm.eval.sources: set specs, QF selection and the set fingerprint of a run."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlsm.data.evalset import synthesize_evalset
from mlsm.eval.sources import EvalConfigError, check_fingerprint, manifest_digest, qualities_for, resolve_sets


@pytest.fixture(scope="module")
def set_dir(tmp_path_factory, make_sources) -> Path:
    root = tmp_path_factory.mktemp("sources")
    synthesize_evalset(make_sources(root / "src", 2), root / "tiny", qualities=(90, 60), seed=1)
    return root / "tiny"


def test_resolve_sets_names_and_errors(set_dir, tmp_path):
    (source,) = resolve_sets([set_dir], tmp_path)
    assert source.name == "tiny" and source.spec == str(set_dir)
    (named,) = resolve_sets([f"mine={set_dir}"], tmp_path)
    assert named.name == "mine"
    with pytest.raises(EvalConfigError, match="two sets are named"):
        resolve_sets([set_dir, set_dir], tmp_path)
    with pytest.raises(EvalConfigError, match="not an evaluation set"):
        resolve_sets([tmp_path], tmp_path)
    with pytest.raises(EvalConfigError, match="no evaluation sets"):
        resolve_sets([], tmp_path)


def test_qualities_for_checks_the_set(set_dir, tmp_path):
    (source,) = resolve_sets([set_dir], tmp_path)
    assert sorted(qualities_for(source, None)) == [60, 90]
    assert qualities_for(source, [60]) == [60]
    with pytest.raises(EvalConfigError, match="has no QF 70"):
        qualities_for(source, [60, 70])


def test_fingerprint_ties_cells_to_one_version_of_the_set(set_dir, tmp_path):
    (source,) = resolve_sets([set_dir], tmp_path)
    digest = manifest_digest(source.evalset)
    assert digest == hashlib.sha256((set_dir / "manifest.json").read_bytes()).hexdigest()
    check_fingerprint(tmp_path / "run", source)
    stored = tmp_path / "run" / "cells" / "tiny" / "set.json"
    assert json.loads(stored.read_text())["manifest_sha256"] == digest
    check_fingerprint(tmp_path / "run", source)  # same version: fine
    stored.write_text(json.dumps({"manifest_sha256": "0" * 64}))
    with pytest.raises(EvalConfigError, match="different version"):
        check_fingerprint(tmp_path / "run", source)
