"""The email service: a Celery worker that sends order mails over SMTP, once, and a dev SMTP sink.

It lives inside `services` so that it never shadows the standard library's `email` package.
"""
