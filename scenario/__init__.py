"""The end-to-end scenario: `python -m scenario` against a running system (`make up`)."""
