"""The saga-step protocol: a participant's side of the saga that erases a user's data.

This package is the one place for the protocol that services share about
sagas: user-service's orchestrator (``user_project/sagas/``) calls it, and
todo-service and notification-service, the participants, answer it. What
only the orchestrator needs (its engine, its tables, its admin) stays in
user-service.

user-service deletes an account as a saga; every service holding the user's
data takes part with three calls, each idempotent by saga id (the protocol:
docs/spec/events.md, "Participant protocol"):

- ``erase``: hide the user's data (the compensable step);
- ``restore``: the compensation, bring back what this saga hid;
- ``purge``: after the pivot (the account is gone), delete what was hidden.

This package holds what is the same in every participant: the record of what
each saga did (:class:`~servicekit.saga.models.AbstractErasure`), the state
machine over it (:class:`~servicekit.saga.participant.SagaParticipant`), the
409 :class:`~servicekit.saga.participant.SagaConflict`, the serializers and
the view (``POST /internal/users/<id>/{erase|restore|purge}``) and how its
OpenAPI schema describes it (:func:`~servicekit.saga.openapi.document_saga_step`).
A service brings its concrete model and its three effects::

    # models.py
    class Erasure(AbstractErasure):
        todos = models.PositiveIntegerField(default=0)  # one count per kind of data

    # erasure.py
    participant = SagaParticipant(Erasure, data="todos", hide=..., unhide=..., delete=...)

    # internal_apis.py / urls.py
    @document_saga_step(ErasureSerializer)
    class UserTodosSagaApi(SagaStepApi):
        required_scope = "todos:erase"
        participant = erasure.participant
        output_serializer_class = ErasureSerializer

    urlpatterns = [*saga_step_urls(UserTodosSagaApi, name="internal-user-todos")]

It is not a Django app (no tables of its own): nothing goes in ``INSTALLED_APPS``.
"""
