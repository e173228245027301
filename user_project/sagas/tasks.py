"""Celery tasks of user-service's saga worker (queue ``user.saga``)."""

from __future__ import annotations

from celery import shared_task

from sagas import engine


@shared_task(name=engine.ADVANCE_TASK)
def advance(saga_id: str) -> None:
    """Run the saga as far as it can go now (a no-op if another worker holds it)."""
    engine.advance(saga_id)
