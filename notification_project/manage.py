#!/usr/bin/env python
"""Django's command-line utility for notification-service."""

from servicekit.entrypoints import manage

if __name__ == "__main__":
    manage("notification-service")
