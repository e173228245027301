#!/usr/bin/env python
"""Django's command-line utility for api-gateway."""

from servicekit.entrypoints import manage

if __name__ == "__main__":
    manage("api-gateway")
