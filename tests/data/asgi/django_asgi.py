"""Django's ASGI handler over the same project as the WSGI tests (tests/data/wsgi/
django_project.py): get_asgi_application() refuses the lifespan scope, so httpy serves it
without lifespan events."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wsgi"))

import django_project  # noqa: E402,F401 (its settings and database come first)
from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
