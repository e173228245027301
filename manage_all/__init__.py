"""The suite on one machine: what ``./manage-all.sh`` runs (``python -m manage_all``)."""
