"""The shipping service: ships every confirmed order, once (docs/shipping.md)."""
