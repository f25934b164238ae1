"""The orders service: HTTP API, storage, and the outbox relay that publishes order events."""
