"""The inventory service: reserves stock for placed orders (see docs/inventory.md)."""
