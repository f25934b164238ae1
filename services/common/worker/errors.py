"""The two ways a handler can fail, and what the worker does about each."""


class TransientError(Exception):
    """Might work later (SMTP 4xx, connection refused, database locked): retried with exponential
    backoff and jitter on the service's private task queue, then dead-lettered."""


class PermanentError(Exception):
    """Will never work (SMTP 5xx, a refused recipient): dead-lettered at once, no retry."""
