"""Helpers shared by the integration and e2e tests: polling, broker access, subprocesses."""
