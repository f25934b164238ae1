"""The email database as tests look at it: a fresh schema, and one `sent_emails` row."""

from __future__ import annotations

from services.common.db import Database
from services.email.manage import create_schema
from services.email.models import SentEmail


def make_email_db(url: str) -> Database:
    db = Database(url)
    create_schema(db)
    return db


def sent_email(db: Database, event_id: str, template: str) -> SentEmail | None:
    with db.transaction() as session:
        return session.get(SentEmail, (event_id, template))
