"""What every service's Celery worker shares: configuration, the event ingress, task helpers.

See docs/consuming-events.md for the whole path of an event through a worker.
"""
