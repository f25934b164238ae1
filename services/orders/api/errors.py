"""Every error leaves the API as `ErrorBody` JSON that names the field and the problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from services.common.events.orders import SKU_PATTERN
from services.orders.api.access import NotAnOperator, TooManyRequests
from services.orders.api.schemas import KEY_PATTERN
from services.orders.errors import (
    FieldProblem,
    IdempotencyKeyReused,
    InvalidOrder,
    OrderNotFound,
    OrdersError,
)

_STATUS = {InvalidOrder: 422, IdempotencyKeyReused: 409, OrderNotFound: 404}
_CODES = {422: "validation_failed", 409: "idempotency_conflict", 404: "not_found"}


def error_body(code: str, message: str, problems: Sequence[FieldProblem]) -> dict[str, Any]:
    """The one shape of every error answer, including those made outside FastAPI (limits.py)."""
    return {
        "error": code,
        "message": message,
        "errors": [{"field": p.field, "in": p.location, "problem": p.problem} for p in problems],
    }


def error_response(
    status: int,
    code: str,
    message: str,
    problems: Sequence[FieldProblem],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, problems), status_code=status, headers=headers)


# What a pattern means, in words: pydantic's own message only quotes the regex.
PATTERN_WORDS = {
    KEY_PATTERN: "only printable ASCII characters: letters, digits and punctuation, "
    "no spaces, no control characters, nothing outside ASCII",
    SKU_PATTERN: "capital letters and digits in one to four parts joined by '-', like MUG-BLUE",
}


def _problem_text(err: dict[str, Any]) -> str:
    if err.get("type") == "extra_forbidden":
        return "unknown field; allowed fields are listed at /docs"
    if err.get("type") == "missing":
        return "required"
    if err.get("type") == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern", "")
        return PATTERN_WORDS.get(pattern, f"does not match the pattern {pattern}")
    return str(err.get("msg", "invalid"))


def _from_validation(err: dict[str, Any]) -> FieldProblem:
    if err.get("type") == "json_invalid":
        position = err.get("loc", ("body", "?"))[-1]
        reason = (err.get("ctx") or {}).get("error", "malformed")
        return FieldProblem("(body)", f"invalid JSON at character {position}: {reason}")
    loc = [str(part) for part in err.get("loc", ())]
    location = loc[0] if loc and loc[0] in {"body", "query", "path", "header"} else "body"
    rest = loc[1:] if loc and loc[0] == location else loc
    if location == "header" and rest:
        rest = ["-".join(w.capitalize() for w in rest[0].split("-")), *rest[1:]]
    return FieldProblem(".".join(rest) or "(body)", _problem_text(err), location)


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_from_validation(err) for err in exc.errors()]
    return error_response(422, "validation_failed", "the request is not valid", problems)


async def on_orders_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrdersError)
    status = _STATUS.get(type(exc), 400)
    return error_response(status, _CODES.get(status, "bad_request"), exc.message, exc.problems)


def _unparsable(cause: BaseException) -> str:
    if isinstance(cause, RecursionError):
        return "invalid JSON: nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "invalid JSON: not UTF-8 text"
    return f"invalid JSON: {cause}"  # e.g. an integer literal of more than 4300 digits


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    route = f"{request.method} {request.url.path}"
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI answers 400 "There was an error parsing the body" for what json.loads raises
        # besides JSONDecodeError; it is malformed JSON all the same.
        problems = [FieldProblem("(body)", _unparsable(exc.__cause__))]
        return error_response(422, "validation_failed", "the request is not valid", problems)
    if exc.status_code == 404:
        problem = FieldProblem("path", f"no route {route}", "path")
        code, message = "not_found", "not found"
    elif exc.status_code == 405:
        allowed = ", ".join(allowed_methods(request.app.routes, request.scope))
        exc.headers = {**(exc.headers or {}), "Allow": allowed}
        problem = FieldProblem(
            "method", f"{request.method} not allowed; allowed: {allowed}", "method"
        )
        code, message = "method_not_allowed", "method not allowed"
    else:
        problem = FieldProblem("(request)", str(exc.detail), "request")
        code, message = "http_error", str(exc.detail)
    return error_response(
        exc.status_code, code, message, [problem], headers=dict(exc.headers or {})
    )


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at this request's path. Starlette's own 405 names only the
    first route that matched the path (`Allow: POST` for /orders, which GET serves too)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


UNAUTHORIZED = ("unauthorized", "listing orders needs the operator token")
TOO_MANY = ("too_many_requests", "too many orders from this client address; see Retry-After")


def unauthorized_body(problem: str) -> dict[str, Any]:
    return error_body(*UNAUTHORIZED, [FieldProblem("Authorization", problem, "header")])


def too_many_body(limit: str) -> dict[str, Any]:
    problem = FieldProblem("(request)", f"more than {limit} from this address", "request")
    return error_body(*TOO_MANY, [problem])


async def on_not_an_operator(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotAnOperator)
    headers = {"WWW-Authenticate": 'Bearer realm="shopflow operators"'}
    return JSONResponse(unauthorized_body(exc.problem), status_code=401, headers=headers)


async def on_too_many_requests(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyRequests)
    headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(too_many_body(exc.limit), status_code=429, headers=headers)


async def on_unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(500, "internal_error", "unexpected error; see the service log", [])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OrdersError, on_orders_error)
    app.add_exception_handler(NotAnOperator, on_not_an_operator)
    app.add_exception_handler(TooManyRequests, on_too_many_requests)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
