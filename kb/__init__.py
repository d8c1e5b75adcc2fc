"""Knowledge base: load, clean and chunk the course notes, store them in Chroma, retrieve them (BM25 + vectors)."""
