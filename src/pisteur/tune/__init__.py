"""Tuning an index to its own corpus: synthetic queries (``generate``), calibration of the search options
(``calibrate``), a query-side adapter over the stored vectors (``adapter``) and full fine-tuning of a
torch-loadable model (``finetune``, extra ``st``). What a tuned index uses at query time lives in
``artifacts`` (read by the search pipeline)."""
