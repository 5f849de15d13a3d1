"""The HTTP service: ``POST /v1/predict``, ``POST /v1/predict/batch``, ``GET /v1/models``,
``GET /healthz`` and the page at ``/``.

Images are decoded and analysed in a small thread pool (each :class:`Recognizer` is used by one
thread at a time, since a LiteRT interpreter must not be shared); the event loop only reads headers,
admits and answers, so no upload can stall it. A request beyond ``max_concurrency + max_queue``
waiting ones gets 429 at once, one that waits longer than ``timeout_s`` (decoding included) gets 503;
every bad input gets a 4xx JSON ``{"error", "detail"}``. The model, detector and prior are tried at
start-up, and ``/healthz`` answers 503 while the model fails on valid images.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BalancedFerError
from ..faces import DEFAULT_DETECTOR, DEFAULT_MIN_SCORE
from ..inference import Recognizer
from ..pretrained import resolve_model
from .decode import ServiceLimits, UploadError, decode_upload, image_size

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CONFIG_ENV = "BFER_SERVE_CONFIG"
T = TypeVar("T")


class FaceOut(BaseModel):
    box: list[float]  # x, y, width, height in image pixels
    landmarks: list[list[float]]  # right eye, left eye, nose, mouth, right ear, left ear
    detection_score: float
    label: str
    scores: dict[str, float]


class ModelRef(BaseModel):
    name: str
    version: str


class ImageSize(BaseModel):
    width: int
    height: int


class Prediction(BaseModel):
    model: ModelRef
    image: ImageSize
    faces: list[FaceOut]
    timing_ms: dict[str, float]


class BatchItem(BaseModel):
    filename: str
    image: ImageSize | None = None
    faces: list[FaceOut] | None = None
    error: str | None = None  # why this image was not analysed (the others still are)
    status: int = 200


class BatchPrediction(BaseModel):
    model: ModelRef
    results: list[BatchItem]
    timing_ms: dict[str, float]


class ModelInfo(BaseModel):
    name: str
    version: str
    classes: list[str]
    train_counts: dict[str, int]  # the class distribution the model was trained on
    validation: dict[str, Any]  # the figures of the file served, through its runtime path
    validation_data: str | None  # the dataset and split they were measured on, e.g. "fer2013 val"
    runtime: str  # float or int8
    preprocessing: dict[str, Any]
    post_hoc_tau: float
    temperature: float
    tta: str
    prior: str | None


class Models(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str  # ok, or failing (with a 503) while the model fails on valid images
    model: ModelRef
    busy: int  # requests admitted and not yet answered
    detail: str | None = None  # why it is failing


class ErrorOut(BaseModel):
    error: str
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "damaged image or malformed request",
        413: "upload or image too large",
        415: "not an image, or an unsupported content type",
        429: "too many requests waiting",
        503: "timed out waiting for the model",
    }.items()
}
BINARY = {"type": "string", "format": "binary"}


def upload_body(field: str, schema: dict, raw_types: tuple[str, ...] = ()) -> dict:
    """OpenAPI request body: a multipart form with ``field``, or raw bytes of the ``raw_types``."""
    form = {"type": "object", "properties": {field: schema}, "required": [field]}
    content = {"multipart/form-data": {"schema": form}} | {t: {"schema": BINARY} for t in raw_types}
    return {"requestBody": {"required": True, "content": content}}


IMAGE_BODY = upload_body("image", BINARY, ("image/jpeg", "image/png"))
BATCH_BODY = upload_body("images", {"type": "array", "items": BINARY})


class ModelService:
    """The served model behind admission control: a pool thread borrows an idle recognizer (or makes
    one), so each is used by one thread at a time and there are at most ``max_concurrency``."""

    def __init__(self, model: str, limits: ServiceLimits, recognizer_options: dict):
        self.path = resolve_model(model, prefer_onnx=True)
        self.limits, self.options = limits, recognizer_options
        self.prior = recognizer_options.get("prior")
        first = self.new_recognizer()  # fail fast on a bad model, before the port opens; then the first idle one
        try_recognizer(first, f"cannot serve {model}")
        self.idle: queue.SimpleQueue[Recognizer] = queue.SimpleQueue()
        self.idle.put(first)
        self.description = first.description
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]
        self.ref = ModelRef(name=(self.description.recipe or {}).get("name", self.path.stem), version=digest)
        self.pool: ThreadPoolExecutor | None = None  # started on first use, stopped with the app
        self.busy = 0
        self.failing: str | None = None  # the last unexpected error on a valid image, until a success

    def new_recognizer(self) -> Recognizer:
        return Recognizer(self.path, **self.options)

    def info(self) -> ModelInfo:
        described = self.description
        return ModelInfo(
            name=self.ref.name,
            version=self.ref.version,
            classes=list(described.class_names),
            train_counts=dict(zip(described.class_names, described.train_counts)),
            validation=described.figures or {},  # a decoupled checkpoint has none yet
            validation_data=described.validation_data,
            runtime=described.runtime,
            preprocessing=asdict(described.preprocessing),
            post_hoc_tau=described.post_hoc_tau,
            temperature=described.calibration.temperature,
            tta=described.tta,
            prior=self.prior,
        )

    async def run(self, work: Callable[[Recognizer], T]) -> T:
        """``work`` (decoding and analysing a request's images) on an idle recognizer in the pool;
        429 / 503 when saturated."""
        if self.busy >= self.limits.max_concurrency + self.limits.max_queue:
            raise UploadError(429, f"{self.busy} requests are waiting; retry shortly")
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.limits.max_concurrency, thread_name_prefix="bfer-model")
        self.busy += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.pool, self._with_recognizer, work)
            return await asyncio.wait_for(future, self.limits.timeout_s)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise UploadError(503, f"no answer within {self.limits.timeout_s:g} s; the service is overloaded") from None
        finally:
            self.busy -= 1

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def _with_recognizer(self, work: Callable[[Recognizer], T]) -> T:
        try:
            recognizer = self.idle.get_nowait()
        except queue.Empty:
            recognizer = self.new_recognizer()
        try:
            result = work(recognizer)
        except UploadError:
            raise
        except Exception as err:
            self.failing = f"{type(err).__name__}: {err}"
            raise
        finally:
            self.idle.put(recognizer)
        self.failing = None
        return result


def try_recognizer(recognizer: Recognizer, context: str) -> None:
    """Run the detector and the model (with its prior) once on a blank image, so that a missing or
    foreign detector file or prior file stops the service at start-up instead of failing every request."""
    size = recognizer.description.preprocessing.size
    try:
        recognizer.detector.detect(np.zeros((64, 64, 3), np.uint8))
        recognizer.predict_proba(np.zeros((1, size, size), np.uint8))
    except BalancedFerError as err:
        raise BalancedFerError(f"{context}: {err}") from None
    except Exception as err:  # noqa: BLE001 - LiteRT and onnxruntime raise their own types
        raise BalancedFerError(f"{context}: {type(err).__name__}: {err}") from None


class BodyLimit:
    """ASGI middleware ending a request whose body grows past ``max_bytes`` with 413 as it arrives (so a
    chunked upload, with no Content-Length to check first, is never read whole), or that is still
    arriving ``timeout_s`` after its first read with 408 (so a stalled upload holds nothing for long)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        received, deadline = 0, None

        async def limited_receive() -> Message:
            nonlocal received, deadline
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                raise UploadError(408, f"the request body did not arrive within {self.timeout_s:g} s") from None
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise UploadError(413, f"request body exceeds {self.max_bytes:,} bytes")
            return message

        await self.app(scope, limited_receive, send)


def uvicorn_settings(limits: ServiceLimits) -> dict[str, Any]:
    """The connection-level limits of :class:`ServiceLimits`, as uvicorn's settings."""
    from .protocol import HeaderDeadlineProtocol

    return {
        "http": functools.partial(HeaderDeadlineProtocol, header_timeout_s=limits.header_timeout_s),
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive_s,
        "h11_max_incomplete_event_size": 64 * 1024,  # request line and headers
    }


async def read_uploads(request: Request, limits: ServiceLimits, field: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of each uploaded image: multipart files, or the raw body of an image/* request."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_body_bytes:
        raise UploadError(413, f"request body of {int(length):,} bytes exceeds {limits.max_body_bytes:,}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=limits.max_batch + 1, max_fields=limits.max_batch + 1)
        try:  # closing the form removes the temporary files that large parts were spooled to
            uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
            if not uploads:
                raise UploadError(400, f"multipart request without a file in field {field!r}")
            return [(upload.filename or name, await upload.read()) for name, upload in uploads]
        finally:
            await form.close()
    if content_type.startswith("image/") or content_type.startswith("application/octet-stream"):
        return [("body", await read_raw_image(request, limits.max_upload_bytes))]
    raise UploadError(
        415,
        f"content type {content_type or '(none)'!r}: send multipart/form-data with field {field!r}, or image/* bytes",
    )


async def read_raw_image(request: Request, max_bytes: int) -> bytes:
    """The raw request body, refused with 413 as soon as it passes ``max_bytes`` (one image's limit)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise UploadError(413, f"body: {size:,} bytes so far exceed the limit of {max_bytes:,} for one image")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    model: str = "default",
    limits: ServiceLimits | None = None,
    prior: str | None = None,
    detector: str = DEFAULT_DETECTOR,
    detection_threshold: float = DEFAULT_MIN_SCORE,
    min_face_size: float = 0,
) -> FastAPI:
    """The FastAPI application serving ``model`` (a shipped name, checkpoint or ONNX file); the other
    arguments are :class:`~balanced_fer.inference.Recognizer`'s."""
    limits = limits or ServiceLimits()
    options = dict(prior=prior, detector=detector, detection_threshold=detection_threshold, min_face_size=min_face_size)
    service = ModelService(model, limits, options)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        service.close()

    app = FastAPI(
        title="balanced-fer",
        version=version("balanced-fer"),
        description="Facial expressions that stay accurate on the rare ones.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; the schema stays at /openapi.json
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, timeout_s=limits.body_timeout_s)

    def error(status: int, detail: str) -> JSONResponse:
        headers = {"Retry-After": "1"} if status in (429, 503) else None
        return JSONResponse({"error": ERROR_NAMES.get(status, "error"), "detail": detail}, status, headers=headers)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, err: UploadError) -> JSONResponse:
        return error(err.status, err.reason)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return error(err.status_code, str(err.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return error(422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()))

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, err: ClientDisconnect) -> JSONResponse:
        return error(400, "the client disconnected before its upload was complete")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error(500, f"internal error ({type(err).__name__}); the service is still running")

    async def healthz() -> Health | JSONResponse:
        health = Health(status="ok", model=service.ref, busy=service.busy)
        if service.failing is None:
            return health
        return JSONResponse(
            health.model_copy(update={"status": "failing", "detail": service.failing}).model_dump(), 503
        )

    app.get("/healthz", response_model=Health, responses={503: {"model": Health}})(healthz)
    app.head("/healthz", response_model=None, include_in_schema=False)(healthz)  # load balancers' probes

    @app.get("/v1/models", response_model=Models)
    async def models() -> Models:
        return Models(models=[service.info()])

    @app.post("/v1/predict", response_model=Prediction, responses=ERRORS, openapi_extra=IMAGE_BODY)
    async def predict(request: Request) -> Prediction:
        """Faces in one image (multipart field ``image``, or the raw image bytes) with their expressions."""
        start = time.perf_counter()
        uploads = await read_uploads(request, limits, "image")
        if len(uploads) > 1:
            raise UploadError(400, f"{len(uploads)} files sent: /v1/predict takes one image (use /v1/predict/batch)")
        name, data = uploads[0]
        image_size(data, name, limits)

        def work(recognizer: Recognizer) -> tuple[np.ndarray, list[dict], float]:
            image = decode_upload(data, name)
            decoded = time.perf_counter()
            return image, [face.to_dict() for face in recognizer.predict(image)], decoded

        image, faces, decoded = await service.run(work)
        return Prediction(
            model=service.ref,
            image=ImageSize(width=image.shape[1], height=image.shape[0]),
            faces=[FaceOut(**face) for face in faces],
            timing_ms=_timing(start, decoded, time.perf_counter()),
        )

    @app.post("/v1/predict/batch", response_model=BatchPrediction, responses=ERRORS, openapi_extra=BATCH_BODY)
    async def predict_batch(request: Request) -> BatchPrediction:
        """Several images (multipart field ``images``, repeated); an image that cannot be read, or that
        would take the request past its pixel limit, gets its own ``error`` and ``status`` while the
        others are analysed."""
        start = time.perf_counter()
        uploads = await read_uploads(request, limits, "images")
        if len(uploads) > limits.max_batch:
            raise UploadError(413, f"{len(uploads)} images exceed the batch limit of {limits.max_batch}")
        items, accepted, pixels = [BatchItem(filename=name) for name, _ in uploads], [], 0
        for item, (name, data) in zip(items, uploads):
            try:
                width, height = image_size(data, name, limits)
                if pixels + width * height > limits.max_pixels:
                    raise UploadError(413, f"{name}: the request's images exceed {limits.max_pixels:,} pixels together")
                pixels += width * height
                accepted.append((item, data))
            except UploadError as err:
                item.error, item.status = err.reason, err.status

        def work(recognizer: Recognizer) -> float:
            images = []
            for item, data in accepted:
                try:
                    images.append((item, decode_upload(data, item.filename)))
                except UploadError as err:
                    item.error, item.status = err.reason, err.status
            decoded = time.perf_counter()
            for (item, image), faces in zip(images, recognizer.predict_batch([image for _, image in images])):
                item.image = ImageSize(width=image.shape[1], height=image.shape[0])
                item.faces = [FaceOut(**face.to_dict()) for face in faces]
            return decoded

        decoded = await service.run(work) if accepted else time.perf_counter()
        return BatchPrediction(model=service.ref, results=items, timing_ms=_timing(start, decoded, time.perf_counter()))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


ERROR_NAMES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def _timing(start: float, decoded: float, end: float) -> dict[str, float]:
    return {
        "decode": round(1000 * (decoded - start), 2),
        "inference": round(1000 * (end - decoded), 2),
        "total": round(1000 * (end - start), 2),
    }


def app_from_environment() -> FastAPI:
    """The app described by ``$BFER_SERVE_CONFIG`` (JSON): how ``bfer serve --workers N`` starts each worker."""
    config = json.loads(os.environ.get(CONFIG_ENV, "{}"))
    limits = ServiceLimits(**config.pop("limits", {}))
    return create_app(limits=limits, **config)


def serve_config(model: str, limits: ServiceLimits, **recognizer_options) -> str:
    """``$BFER_SERVE_CONFIG`` for :func:`app_from_environment`: create_app's arguments as JSON."""
    return json.dumps({"model": model, "limits": asdict(limits), **recognizer_options})
