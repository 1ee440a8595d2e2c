"""The indexing run, in two phases: read (every chunk lexically searchable, committed in batches), then
dense (vectors for the chunks that have none, best first). ``pisteur.indexer.index_paths`` drives them."""
