"""The ways a handler can fail (or wait), and what the worker does about each."""


class TransientError(Exception):
    """Might work later (SMTP 4xx, connection refused, database locked): retried with exponential
    backoff and jitter on the service's private task queue, then dead-lettered."""


class PermanentError(Exception):
    """Will never work (SMTP 5xx, a refused recipient): dead-lettered at once, no retry."""


class Deferred(Exception):
    """Not a failure: the work is in another live worker's hands for now (it holds a lease).
    Retried once `seconds` have passed, when that lease has run out, without ever exhausting the
    retry budget: a lease always ends, and dead-lettering work that was merely waiting would
    lose it."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = max(0.0, seconds)
