"""Embeddings, the FAISS index, lexical ranking, fusion and the answer engine."""

from retrieval.embedder import E5SmallEmbedder, Embedder, SentenceTransformerEmbedder, create_embedder
from retrieval.engine import AnswerEngine, AnswerResult, Candidate
from retrieval.index import BruteForceIndex, FaissIndex, IndexStore, Manifest
from retrieval.lexical import LexicalRanker
from retrieval.ranking import EntryScores, HybridRanker, Thresholds

__all__ = [
    "AnswerEngine",
    "AnswerResult",
    "BruteForceIndex",
    "Candidate",
    "E5SmallEmbedder",
    "Embedder",
    "EntryScores",
    "FaissIndex",
    "HybridRanker",
    "IndexStore",
    "LexicalRanker",
    "Manifest",
    "SentenceTransformerEmbedder",
    "Thresholds",
    "create_embedder",
]
