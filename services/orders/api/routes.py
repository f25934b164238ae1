"""HTTP routes: parse the request, call a handler, shape the response. Nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from services.orders import read
from services.orders.api.errors import error_response
from services.orders.api.examples import (
    CONFIRMED_ORDER_EXAMPLE,
    ORDER_PAGE_EXAMPLE,
    PLACED_ORDER_EXAMPLE,
    example_answer,
)
from services.orders.api.schemas import (
    ERROR_RESPONSES,
    KEY_PATTERN,
    PLACE_ORDER_EXAMPLES,
    ErrorBody,
    Health,
    PlaceOrderRequest,
)
from services.orders.bootstrap import Container
from services.orders.commands import ListOrders, PlaceOrder, RequestedLine
from services.orders.errors import FieldProblem
from services.orders.lifecycle import OrderStatus
from services.orders.place import place_order
from services.orders.read import OrderPage, OrderView

router = APIRouter()


async def get_container(request: Request) -> Container:
    # async: a plain function here would cost every request a trip to the thread pool.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=KEY_PATTERN,
        description="Repeat a request safely: same key + same body returns the first order.",
    ),
]
CorrelationIdHeader = Annotated[
    str | None,
    Header(
        alias="X-Correlation-ID",
        min_length=1,
        max_length=128,
        pattern=KEY_PATTERN,
        description="Carried into the event's `correlationid`; defaults to the event id.",
    ),
]


@router.post(
    "/orders",
    status_code=202,
    response_model=OrderView,
    responses={
        **ERROR_RESPONSES,
        409: {"model": ErrorBody, "description": "Key reused"},
        **example_answer(202, PLACED_ORDER_EXAMPLE),
    },
    summary="Place an order",
    tags=["orders"],
)
async def post_order(
    container: ContainerDep,
    response: Response,
    request: Annotated[PlaceOrderRequest, Body(openapi_examples=PLACE_ORDER_EXAMPLES)],
    idempotency_key: IdempotencyKeyHeader = None,
    correlation_id: CorrelationIdHeader = None,
) -> OrderView:
    """Accept an order (202): prices come from the catalogue; `order.placed` follows via the
    outbox. The `Location` header points at the order."""
    command = PlaceOrder(
        customer_email=str(request.customer_email),
        lines=tuple(RequestedLine(line.sku, line.quantity) for line in request.lines),
        currency=request.currency,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id,
    )
    # The handler blocks on the database: it runs in the thread pool, and the answer is then
    # serialized here (a sync route would make FastAPI hop to the pool a second time for that).
    placement = await run_in_threadpool(place_order, command, container.db)
    response.headers["Location"] = f"/orders/{placement.order.id}"
    if not placement.created:
        response.headers["Idempotent-Replayed"] = "true"
    return placement.order


@router.get(
    "/orders/{order_id}",
    response_model=OrderView,
    responses={**ERROR_RESPONSES, **example_answer(200, CONFIRMED_ORDER_EXAMPLE)},
    summary="An order, with its status and timeline",
    tags=["orders"],
)
def get_order(
    container: ContainerDep,
    # Printable ASCII like every id we hand out: PostgreSQL refuses a NUL in a query parameter.
    order_id: Annotated[str, Path(min_length=1, max_length=64, pattern=KEY_PATTERN)],
) -> OrderView:
    return read.get_order(order_id, container.db)


@router.get(
    "/orders",
    response_model=OrderPage,
    responses={**ERROR_RESPONSES, **example_answer(200, ORDER_PAGE_EXAMPLE)},
    summary="Orders, newest first, paginated and filterable by status",
    tags=["orders"],
)
def list_orders(
    container: ContainerDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderPage:
    return read.list_orders(ListOrders(status, page, page_size), container.db)


@router.get("/health", response_model=Health, summary="Liveness", tags=["operations"])
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Health,
    responses={503: {"model": ErrorBody, "description": "DB or broker unreachable"}},
    summary="Readiness: the database and the broker are reachable",
    tags=["operations"],
)
def ready(container: ContainerDep) -> Health | JSONResponse:
    problems = container.readiness_problems()
    if not problems:
        return Health(status="ready")
    return error_response(
        503,
        "not_ready",
        "; ".join(f"{what}: {why}" for what, why in problems.items()),
        [FieldProblem(what, why, "dependency") for what, why in problems.items()],
    )
