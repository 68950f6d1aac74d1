"""The decision API's HTTP service (FastAPI on uvicorn): `marketofone serve`.

    GET  /customers/{customer_id}/next-best-offers?channel=mobile
    POST /decisions   {"customer_id": ..., "channel": ..., "context": {"page": ..., "location": ..., "event": ...}}
    GET  /triggered-offers?channel=mobile&after=0   the triggered-offers queue (a channel polls it from its last seq)
    GET  /health      the store's date, versions and customers
    GET  /openapi.json, /docs

FastAPI because the channels get an OpenAPI spec and input validation (a 422 naming the field) from the same
declarations, and on uvicorn with uvloop and httptools its overhead is a fraction of a millisecond. Handlers are
`async` and do their work inline (one key lookup in the online store, SQLite or Redis, arbitration of a few dozen
candidates, one write to the write-ahead file): no thread hand-off per request. Run one process per home: the
contacts the API made today are counted in that process (and replayed from the write-ahead file at start).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from enum import Enum
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from jobs.domain import CHANNELS
from jobs.serve.answer import CONTEXT_PAGES, Context, Decider, UnknownCustomerError
from jobs.serve.backend import open_store
from jobs.serve.decision_wal import DecisionWal
from jobs.serve.live import LiveState
from jobs.serve.store import StoreMissingError
from jobs.settings import Settings
from jobs.stream.triggers import TriggerEngine
from jobs.stream.triggers import run as follow

log = logging.getLogger(__name__)

Channel = Enum("Channel", {c: c for c in CHANNELS}, type=str)


class LiveContext(BaseModel):
    page: str | None = Field(None, description=f"the page being viewed; one of {', '.join(CONTEXT_PAGES)} "
                                               "raises that product's offers in this answer", max_length=100)
    location: str | None = Field(None, max_length=100)
    event: str | None = Field(None, description="the event that just happened (recorded with the decision)",
                              max_length=200)


class DecisionRequest(BaseModel):
    customer_id: str = Field(..., min_length=1, max_length=100)
    channel: Channel
    context: LiveContext = Field(default_factory=LiveContext)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def _answer(decider: Decider, customer_id: str, channel: str, context: Context | None) -> Response:
    try:
        return _json(decider.answer(customer_id, channel, context))
    except UnknownCustomerError as exc:
        raise HTTPException(404, str(exc)) from None
    except StoreMissingError as exc:
        raise HTTPException(503, str(exc)) from None


def create_app(settings: Settings, as_of: dt.date | None = None, triggers: bool = False) -> FastAPI:
    """The app on the settings' online store (open_store: the home's files or Redis) and the home's write-ahead
    file and live state; `as_of` pins the date the answers are decided on (default: today, UTC).
    With `triggers`, the triggers consumer of the event stream runs in the server (a thread) and shares its
    Decider: the contacts a trigger makes count in the next answer at once."""
    home = settings.home
    store = open_store(settings)
    wal = DecisionWal(home)
    live = LiveState(home)
    decider = Decider(store, wal, today=(lambda: as_of) if as_of else _today, live=live)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        follower = _Follower(home, decider, live, settings.events_broker) if triggers else None
        yield
        if follower is not None:
            follower.stop()
        wal.close()   # the last answers synced to disk

    app = FastAPI(title="Market of One decision API", version="1", lifespan=lifespan,
                  description="One customer's next best offers, decided now with the daily batch's rules, "
                              "models, catalog and policy; every answer lands in audit.decision_log.")
    app.state.decider = decider

    @app.get("/customers/{customer_id}/next-best-offers")
    async def next_best_offers(customer_id: str, channel: Annotated[Channel, Query(description="the channel asking")]):
        return _answer(decider, customer_id, channel.value, None)

    @app.post("/decisions")
    async def decisions(request: DecisionRequest):
        c = request.context
        return _answer(decider, request.customer_id, request.channel.value,
                       Context(page=c.page, location=c.location, event=c.event))

    @app.get("/triggered-offers")
    async def triggered_offers(after: Annotated[int, Query(ge=0, description="the last seq the channel has")] = 0,
                               channel: Annotated[Channel | None, Query(description="only this channel's")] = None,
                               limit: Annotated[int, Query(ge=1, le=1000)] = 100):
        items = live.triggered(after, channel.value if channel else None, limit)
        return {"items": items, "last_seq": items[-1]["seq"] if items else after}

    @app.get("/health")
    async def health():
        try:
            store.refresh()
        except StoreMissingError as exc:
            raise HTTPException(503, str(exc)) from None
        meta = store.meta
        return {"store_date": meta["as_of_date"], "customers": meta["customers"],
                "catalog_version": meta["catalog_version"], "policy_version": meta["policy_version"],
                "materialized_at": meta["materialized_at"], "store_file": store.name}

    return app


class _Follower:
    """The triggers consumer in a thread of the server."""

    def __init__(self, home: Path, decider: Decider, live: LiveState, broker: str = ""):
        self.engine = TriggerEngine(home, decider, live)
        self.broker = broker   # Kafka's bootstrap servers, or "" for the landing folder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="triggers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                follow(self.engine, until_idle=False, stop=self._stop.is_set, broker=self.broker)
            except StoreMissingError:
                self._stop.wait(5.0)   # no store yet: the first publish makes one
            except Exception:
                log.exception("the triggers consumer failed; it starts again from its checkpoint in 5 s")
                self._stop.wait(5.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def serve(settings: Settings, host: str, port: int, as_of: dt.date | None = None, triggers: bool = False) -> None:
    import uvicorn

    uvicorn.run(create_app(settings, as_of, triggers), host=host, port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")
