"""Evaluation: BEIR datasets, ranking metrics, TREC run files, the bench index and its HTML report."""
