"""WSGI applications for tests/runtime/app_test.cpp: how `--interface auto` tells them apart,
and what a mounted application sees of its prefix."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}".encode("latin-1")]


class Callable:
    def __call__(self, environ, start_response):
        return application(environ, start_response)


callable_object = Callable()


def cannot_tell(*args):
    return application(*args)


def go_request(method, path, params, query, headers, body):
    return 200, "go", None


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        raise ValueError("no lifespan")  # served without it
