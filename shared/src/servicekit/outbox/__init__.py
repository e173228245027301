"""The transactional outbox: events written with the change, published by a relay.

A service function writes its change and the event in one transaction::

    @transaction.atomic
    def todo_complete(*, todo: Todo) -> Todo:
        ...
        emit_event(event_type="todo.completed", subject=f"todos/{todo.pk}", data={...})

If the transaction rolls back, the event is gone with it; if it commits, the
event is in the ``outbox_message`` table and the relay (``python manage.py
relay_outbox``) publishes it: right after the commit (the commit wakes it
through Redis) and on a short sweep, oldest first, until the broker has taken
it. That is the difference from ``transaction.on_commit(task.delay)``, which
loses the event when the broker is down at that moment or the process dies.

Add ``"servicekit.outbox"`` to ``INSTALLED_APPS``; settings are the
``OUTBOX_*`` keys of ``SERVICEKIT`` (see :mod:`servicekit.settings`).
"""
