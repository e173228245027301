"""servicekit: the pieces every Todo microservice needs, written once.

Each project installs this package and configures it through one namespaced
Django setting, ``SERVICEKIT`` (see :mod:`servicekit.settings`).
"""

__version__ = "1.0.0"
