"""The tests' fake embedder (`hashing-test`): deterministic, fast, unit rows, loadable by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kb import KnowledgeBase, ModelMismatchError
from kb.cli.main import main
from kb.embeddings import HashingEmbedder, load_embedder
from tests.conftest import FAKE_MODEL, REAL_MODEL, ROOT

TEXTS = ["注文した荷物が届かない", "ｹﾄﾙの電源が入らない", "I was charged twice.", "", "   ", "a"]


def test_unit_float32_rows_of_a_fixed_dim() -> None:
    model = load_embedder(FAKE_MODEL)
    assert isinstance(model, HashingEmbedder) and model.name == FAKE_MODEL == "hashing-test"
    vectors = model.encode_documents(TEXTS)
    assert vectors.shape == (len(TEXTS), model.dim) == (len(TEXTS), 256)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.encode_queries([]).shape == (0, 256)
    assert np.array_equal(model.encode_queries(TEXTS), vectors)  # symmetric, like USE


def test_normalised_text_embeds_alike_and_shared_characters_are_closer() -> None:
    model = load_embedder(FAKE_MODEL)
    half, full, other = model.encode_documents(["ｹﾄﾙ KT-10", "ケトル kt-10", "二重請求の返金"])
    assert np.allclose(half, full)  # NFKC and case folded before hashing
    near = model.encode_queries(["ケトルが壊れた KT-10"])[0]
    assert near @ full > near @ other


def test_same_vectors_in_another_process_whatever_its_hash_seed() -> None:
    here = load_embedder(FAKE_MODEL).encode_documents(TEXTS).tobytes().hex()
    code = ("import sys; from kb.embeddings import load_embedder; "
            f"sys.stdout.write(load_embedder({FAKE_MODEL!r}).encode_documents({TEXTS!r}).tobytes().hex())")
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert done.stdout == here


def test_tests_default_to_the_fake_and_a_base_records_it(kb: KnowledgeBase) -> None:
    assert os.environ["KB_EMBEDDING_MODEL"] == FAKE_MODEL
    assert (kb.embedder.name, kb.stats().model, kb.stats().dim) == (FAKE_MODEL, FAKE_MODEL, 256)
    root = kb.layout.root
    kb.close()
    code = ("import sys; from kb import KnowledgeBase; "
            "sys.stdout.write(KnowledgeBase.open(sys.argv[1]).embedder.name)")
    env = {k: v for k, v in os.environ.items() if k != "KB_EMBEDDING_MODEL"}  # the manifest alone
    done = subprocess.run([sys.executable, "-c", code, str(root)], cwd=ROOT, capture_output=True,
                          text=True, env=env, check=True)
    assert done.stdout == FAKE_MODEL
    with pytest.raises(ModelMismatchError, match="built with embedding model 'hashing-test'"):
        KnowledgeBase.open(root, model=REAL_MODEL)
    result = CliRunner().invoke(main, ["--index", str(root), "search", "荷物が届かない", "--json"])
    assert result.exit_code == 0 and '"T-001"' in result.output


@pytest.mark.real_model
def test_real_model_tests_get_the_real_model(kb: KnowledgeBase) -> None:
    assert os.environ["KB_EMBEDDING_MODEL"] == REAL_MODEL == "use-multilingual-v3"
    assert kb.stats().model == REAL_MODEL


@pytest.mark.real_model(model="multilingual-e5-small")
def test_a_real_model_marker_may_name_its_model(request: pytest.FixtureRequest) -> None:
    from tests.conftest import model_for

    assert model_for(request.node) == os.environ["KB_EMBEDDING_MODEL"] == "multilingual-e5-small"


def test_sample_template_was_built_with_the_fake(sample_base: Path) -> None:
    with KnowledgeBase.open(sample_base) as base:
        assert base.stats().model == FAKE_MODEL and base.stats().cases == 360
