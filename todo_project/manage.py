#!/usr/bin/env python
"""Django's command-line utility for todo-service."""

from servicekit.entrypoints import manage

if __name__ == "__main__":
    manage("todo-service")
