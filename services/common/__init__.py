"""What every service shares: event contracts, broker topology names, settings helpers."""
