"""Word vectors (Day 3, notes 001 and 004): count-based (co-occurrence, PPMI, SVD), word2vec
(CBOW and skip-gram with negative sampling, from scratch in NumPy and batched in PyTorch) and a
masked-word Transformer, measured on WordSim-353 and the Google analogies against gensim."""
