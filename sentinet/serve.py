"""``sentinet serve RUN``: a small HTTP API over a trained run (the ``serve`` extra).

    GET  /health   → {"status": "ok", "run": ..., "labels": [the run's labels], "classes": [their names]}
    POST /predict  {"texts": ["...", ...]} → {"predictions": [{"label": 1, "probabilities": {...}}]}

The model is loaded once, before the server starts. Requests are checked by hand rather than
by a schema so every mistake gets one plain sentence and the right status: 400 for a body that
is not JSON, 413 for one too big, 422 for JSON of the wrong shape.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# run time, and Request is imported inside build_app (fastapi is an optional extra).
import json
import threading

from sentinet.errors import SentinetError


def require_extra():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise SentinetError("serve needs FastAPI and uvicorn: pip install 'sentinet-nlp[serve]'") from None


def build_app(predictor, max_texts: int, max_bytes: int):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    classes = predictor.classes
    app = FastAPI(title="sentinet", docs_url=None, redoc_url=None)
    lock = threading.Lock()  # predict grows the run's vocabulary with unseen words

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "run": str(predictor.path), "labels": list(classes.values),
                "classes": list(classes.names)}

    @app.post("/predict")
    async def predict(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return error(413, f"request body over {max_bytes} bytes")
        body = await request.body()
        if len(body) > max_bytes:
            return error(413, f"request body over {max_bytes} bytes")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error(400, f"body is not valid JSON ({exc})")
        texts = payload.get("texts") if isinstance(payload, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return error(422, 'expected {"texts": ["a text", ...]}: a list of strings')
        if len(texts) > max_texts:
            return error(413, f"{len(texts)} texts in one request; the limit is {max_texts}")
        if not texts:
            return {"predictions": []}
        with lock:
            probs = predictor.predict_proba(texts, progress=False)
            labels = predictor.labels(probs)
        return {"predictions": [
            {"label": y, "probabilities": {n: round(float(x), 6) for n, x in zip(classes.names, p)}}
            for y, p in zip(labels, probs)
        ]}

    return app


def run_server(predictor, host: str, port: int, max_texts: int, max_bytes: int) -> None:
    import uvicorn

    uvicorn.run(build_app(predictor, max_texts, max_bytes), host=host, port=port, log_level="warning")
