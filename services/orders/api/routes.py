"""HTTP routes: parse the request, call a handler, shape the response. Nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextvars import copy_context
from functools import partial
from typing import Annotated, ParamSpec, TypeVar

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.orders import read
from services.orders.api import examples
from services.orders.api.access import is_operator, operator_bearer, require_operator
from services.orders.api.errors import error_response
from services.orders.api.live import order_steps
from services.orders.api.pages import order_page, prefers_html
from services.orders.api.schemas import (
    KEY_PATTERN,
    PLACE_ORDER_EXAMPLES,
    ErrorBody,
    Health,
    PlaceOrderRequest,
)
from services.orders.bootstrap import Container
from services.orders.catalogue import ProductView, list_products
from services.orders.commands import ListOrders, PlaceOrder, RequestedLine
from services.orders.errors import FieldProblem
from services.orders.live import Hub
from services.orders.place import place_order
from services.orders.read import OrderPage, OrderView, TimelineStep
from services.orders.status import OrderStatus

router = APIRouter()

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a handler that blocks on the database in the event loop's default thread pool
    (asyncio's: min(32, CPUs + 4) threads), in a copy of this context, so the request's trace
    goes along when tracing is on.

    Not Starlette's `run_in_threadpool`: anyio's capacity limiter, cancel scope and checkpoints
    around the same hop cost about 100k instructions more per call, on every order
    (docs/benchmarks.md). As with it, a handler runs to its end even if the client has gone:
    its transaction commits or rolls back as a whole."""
    call = partial(copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


PRINTABLE = "printable ASCII, no spaces"


async def get_container(request: Request) -> Container:
    # async: a plain function here would cost every request a trip to the thread pool.
    container: Container = request.app.state.container
    return container


async def admit_order(request: Request) -> Container:
    """POST /orders' one dependency: count every POST /orders of this client, valid or not,
    before anything is parsed, then hand over the container. The operator's are not counted:
    the scenario places its orders as the operator, a thousand at a time (a wrong token is no
    error here, only a customer's order like any other).

    One dependency reading the bearer token itself, not three (the container, the limit and
    `operator_bearer`): FastAPI solves every dependency of a route anew for each request, and
    this route is the one every order goes through (docs/benchmarks.md). The OpenAPI document
    still names the token for this route, as optional (`security` below).
    """
    credentials = await operator_bearer(request)
    if not is_operator(credentials, request.app.state.operator_token):
        client = request.client.host if request.client else "unknown"
        request.app.state.place_limit.hit(client)
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
OrderId = Annotated[
    str,
    # Printable ASCII like every id we hand out: PostgreSQL refuses a NUL in a query parameter.
    Path(min_length=1, max_length=64, pattern=KEY_PATTERN, description=f"1-64 chars, {PRINTABLE}"),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=KEY_PATTERN,
        description="Repeat a request safely: same key + same body returns the first order. "
        f"1-255 chars, {PRINTABLE}.",
    ),
]
CorrelationIdHeader = Annotated[
    str | None,
    Header(
        alias="X-Correlation-ID",
        min_length=1,
        max_length=128,
        pattern=KEY_PATTERN,
        description="Carried into the event's `correlationid`; defaults to the event id. "
        f"1-128 chars, {PRINTABLE}.",
    ),
]


@router.post(
    "/orders",
    status_code=202,
    response_model=OrderView,
    responses=examples.PLACE_ORDER_RESPONSES,
    summary="Place an order",
    tags=["orders"],
    # admit_order reads the token, which is optional: `{}` is "no token" (anyone may order)
    openapi_extra={"security": [{}, {operator_bearer.scheme_name: []}]},
)
async def post_order(
    container: Annotated[Container, Depends(admit_order)],
    request: Annotated[PlaceOrderRequest, Body(openapi_examples=PLACE_ORDER_EXAMPLES)],
    idempotency_key: IdempotencyKeyHeader = None,
    correlation_id: CorrelationIdHeader = None,
) -> Response:
    """Accept an order (202): prices come from the catalogue; `order.placed` follows via the
    outbox. The `Location` header points at the order, which its id alone lets one read."""
    command = PlaceOrder(
        customer_email=str(request.customer_email),
        lines=tuple(RequestedLine(line.sku, line.quantity) for line in request.lines),
        currency=request.currency,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
        express=request.express,
    )
    # The handler blocks on the database: it runs in the thread pool (a sync route would make
    # FastAPI hop to the pool a second time to serialize the answer). The answer is the
    # `OrderView` made JSON by its own model, as `response_model` would, without checking again
    # the model place_order has just built.
    placement = await in_thread(place_order, command, container.db)
    headers = {"Location": f"/orders/{placement.order.id}"}
    if not placement.created:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        placement.order.model_dump_json(),
        status_code=202,
        headers=headers,
        media_type="application/json",
    )


@router.get(
    "/orders/{order_id}",
    response_model=OrderView,
    responses=examples.GET_ORDER_RESPONSES,
    summary="An order, with its status and timeline (its page, for a browser)",
    tags=["orders"],
)
async def get_order(
    container: ContainerDep, request: Request, response: Response, order_id: OrderId
) -> OrderView | FileResponse:
    """Anyone with the id may read the order: the id is random and only its customer gets it.
    A browser asking for HTML gets the order's live page instead of the JSON."""
    view = await in_thread(read.get_order, order_id, container.db)
    page = order_page() if prefers_html(request) else None
    for answer in (page, response):
        if answer is not None:
            answer.headers["Vary"] = "Accept"
    return page or view


async def existing_order(order_id: OrderId, container: ContainerDep) -> str:
    """404 before the stream starts: once it has, the status cannot change."""
    await in_thread(read.order_exists, order_id, container.db)
    return order_id


@router.get(
    "/orders/{order_id}/events",
    response_class=EventSourceResponse,
    responses=examples.ORDER_EVENTS_RESPONSES,
    summary="An order's timeline, live (Server-Sent Events)",
    tags=["orders"],
)
async def order_events(
    container: ContainerDep,
    request: Request,
    order_id: Annotated[str, Depends(existing_order)],
    after: Annotated[
        int, Query(ge=0, le=2**62, description="the last position the client has")
    ] = 0,
    last_event_id: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, le=2**62, description="sent by the browser"),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Each `step` event is one timeline step (`id` = its position), oldest first, from the one
    after `max(after, Last-Event-ID)`; then the stream stays open and sends new steps as they
    happen."""
    hub: Hub = request.app.state.hub

    async def steps_after(order: str, position: int) -> list[TimelineStep]:
        return await in_thread(read.steps_after, order, position, container.db)

    start = max(after, last_event_id or 0)
    async for event in order_steps(order_id, start, hub, steps_after):
        yield event


@router.get(
    "/orders",
    response_model=OrderPage,
    responses=examples.LIST_ORDERS_RESPONSES,
    summary="Orders, newest first, paginated and filterable by status (operators only)",
    tags=["orders"],
)
def list_orders(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(operator_bearer)],
    status: Annotated[OrderStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    """Every customer's orders: only for the operator token (401 without it)."""
    require_operator(credentials, request.app.state.operator_token)
    return read.list_orders(ListOrders(status, page, page_size), container.db)


@router.get(
    "/products",
    response_model=list[ProductView],
    summary="The catalogue: what can be ordered, at which price",
    tags=["catalogue"],
)
def products(container: ContainerDep) -> list[ProductView]:
    return list_products(container.db)


@router.get("/health", response_model=Health, summary="Liveness", tags=["operations"])
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Health,
    responses={503: {"model": ErrorBody, "description": "DB unreachable or live updates down"}},
    summary="Readiness: the database answers and the live updates are subscribed",
    tags=["operations"],
)
def ready(container: ContainerDep, request: Request) -> Health | JSONResponse:
    problems = container.readiness_problems()
    hub: Hub = request.app.state.hub
    if hub.problem is not None:
        problems["broker"] = hub.problem
    if not problems:
        return Health(status="ready")
    return error_response(
        503,
        "not_ready",
        "; ".join(f"{what}: {why}" for what, why in problems.items()),
        [FieldProblem(what, why, "dependency") for what, why in problems.items()],
    )
