"""The French analyser lives in ``pisteur.text.analysis`` (below the store and retrieval stages); this name
stays as an alias of that same module for existing imports."""

import sys

from pisteur.text import analysis as _analysis

sys.modules[__name__] = _analysis
