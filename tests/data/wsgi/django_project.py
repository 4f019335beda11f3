"""A whole Django project in one file, for tests/e2e/test_django.py.

Settings are made in code, the URLconf is this module, the database is SQLite in a fresh
temporary folder (migrated at import, so sessions work), and `Item` is a model outside any
installed app whose table is made with the schema editor. `application` is what
`django.core.wsgi.get_wsgi_application()` returns, a WSGIHandler, as in any project's wsgi.py.

One database per process: served with several worker processes, each has its own items.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile

import django
from django.conf import settings

_DB_DIR = tempfile.mkdtemp(prefix="httpy-django-")
atexit.register(shutil.rmtree, _DB_DIR, ignore_errors=True)

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="httpy-django-test-secret-key-not-for-production",
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": os.path.join(_DB_DIR, "db.sqlite3")}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sessions",
                    "django.contrib.auth"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
                "django.middleware.common.CommonMiddleware"],
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
    # Django's warnings (DisallowedHost, 404s, 500 tracebacks) on stderr, the server's log.
    LOGGING={"version": 1, "disable_existing_loggers": False,
             "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": sys.stderr}},
             "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}}},
)
django.setup()

from django.core.management import call_command  # noqa: E402  (after settings)
from django.db import connection, models  # noqa: E402
from django.http import (HttpResponse, HttpResponseNotAllowed, JsonResponse,  # noqa: E402
                         StreamingHttpResponse)
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.html import escape  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


class Item(models.Model):
    name = models.CharField(max_length=200)

    class Meta:
        app_label = "httpy_items"  # not an installed app: its table is made below
        ordering = ["id"]


call_command("migrate", run_syncdb=True, verbosity=0)
with connection.schema_editor() as editor:
    editor.create_model(Item)
connection.close()  # each serving thread opens its own


@csrf_exempt
def items(request):
    """GET (and HEAD): every item as JSON; POST {"name": ...}: adds one (an API: no CSRF token)."""
    if request.method == "POST":
        doc = json.loads(request.body)
        item = Item.objects.create(name=doc["name"])
        return JsonResponse({"id": item.id, "name": item.name}, status=201)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    return JsonResponse({"items": [{"id": i.id, "name": i.name} for i in Item.objects.all()]})


def form(request):
    """GET: an HTML form carrying the CSRF token (and the csrftoken cookie is set); POST: 200
    with the cookie and the token, else CsrfViewMiddleware answers 403 before this runs."""
    if request.method == "POST":
        return HttpResponse(f"accepted: {escape(request.POST.get('text', ''))}",
                            content_type="text/plain")
    token = get_token(request)
    html = ('<!doctype html><form method="post" action="/form/">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
            '<input name="text"><button>send</button></form>')
    return HttpResponse(html)


def counter(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


def stream(request):
    n = int(request.GET.get("n", "4"))
    return StreamingHttpResponse((f"chunk {i}\n" for i in range(n)),
                                 content_type="text/plain")


def boom(request):
    raise RuntimeError("a Django view failed: secret-detail-9d2e")


urlpatterns = [
    path("items/", items),
    path("form/", form),
    path("session/", counter),
    path("stream/", stream),
    path("boom/", boom),
]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
