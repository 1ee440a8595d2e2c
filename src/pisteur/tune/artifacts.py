"""The tuning files of an index: defined beside the search that reads them (``pisteur.retrieve.tuning``)."""

from pisteur.retrieve.tuning import (
    ADAPTER_FILE,
    DICT_DIR,
    TUNING_FILE,
    Adapter,
    Tuning,
    read_tuning,
    tuning_for,
)

__all__ = ["ADAPTER_FILE", "DICT_DIR", "TUNING_FILE", "Adapter", "Tuning", "read_tuning",
           "tuning_for"]
