"""Derived search indexes (FAISS, FTS5, in-memory BM25) and the analyser."""
