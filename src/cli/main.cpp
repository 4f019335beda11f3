// The `httpy` command: `httpy serve` runs the HTTP server in front of a Python handler, and
// `httpy call` runs one request through a handler without a server.
#include "cli/call_command.hpp"
#include "cli/log_pattern.hpp"
#include "cli/serve_command.hpp"
#include "httpy/config_error.hpp"
#include "httpy/interpreter.hpp"
#include "server/forwarded.hpp"
#include "server/tls_context.hpp"
#include "httpy/version.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using httpy::cli::call_options;
using httpy::cli::serve_options;

// The most seconds a duration option takes: as milliseconds, and added to a clock's now() in
// nanoseconds, that still fits in 64 bits with room to spare.
constexpr double max_seconds = 1e9;

// Refuses what is not a number of seconds from 0 to max_seconds (NaN, inf, negative, too
// large), so a duration never overflows; CLI11 names the option in the message (exit code 2).
const CLI::Validator duration_seconds(
    [](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(value) || value < 0 ||
            value > max_seconds)
            return "\"" + text + "\" is not a number of seconds from 0 to 1e9";
        return {};
    },
    "0..1e9");

// Seconds on the command line, milliseconds inside.
struct seconds_option {
    std::chrono::milliseconds& target;
    double seconds;

    void apply() const {
        target = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
};

// TARGET and the options that say what it is, for both commands.
void add_app_options(CLI::App* cmd, httpy::detail::app_choice& app) {
    cmd->add_option("app", app.handler,
                    "The app: FILE.py[:NAME] or MODULE[:NAME] (default NAME: go_request, else "
                    "application, else app)")
        ->required()->envname("HTTPY_HANDLER");
    cmd->add_option("--interface", app.interface,
                    "What the app speaks: auto (from its signature or type), go, wsgi, asgi")
        ->capture_default_str()->check(CLI::IsMember({"auto", "go", "wsgi", "asgi"}))
        ->envname("HTTPY_INTERFACE");
    cmd->add_option("--venv", app.venv,
                    "Virtual environment to run the app in (default: $VIRTUAL_ENV when set)")
        ->envname("HTTPY_VENV");
    cmd->add_option("--root-path", app.root_path,
                    "The path prefix the app is mounted under: WSGI's SCRIPT_NAME (moved from "
                    "PATH_INFO), ASGI's root_path")
        ->envname("HTTPY_ROOT_PATH");
    cmd->add_option("--lifespan", app.lifespan,
                    "ASGI: run the lifespan protocol: auto (unless the app does not support it), "
                    "on (the app must), off")
        ->capture_default_str()->check(CLI::IsMember({"auto", "on", "off"}))
        ->envname("HTTPY_LIFESPAN");
    cmd->add_option("--startup-timeout", app.startup_timeout,
                    "ASGI: seconds the lifespan startup (and shutdown) may take")
        ->capture_default_str()->check(CLI::PositiveNumber)->envname("HTTPY_STARTUP_TIMEOUT");
    cmd->add_option("--loop", app.loop,
                    "The event loop for async handlers and ASGI apps: uvloop (every coroutine "
                    "runs on the loop's own thread), asyncio (asyncio's, whose coroutines start "
                    "on the IO thread), auto (uvloop when it can be imported, else asyncio)")
        ->capture_default_str()->check(CLI::IsMember({"auto", "asyncio", "uvloop"}))
        ->envname("HTTPY_LOOP");
    cmd->add_option("--init", app.init,
                    "go contract: init function MODULE:FUNCTION (default: the module's go_init, "
                    "when it has one; without one every method and path goes to the handler)")
        ->envname("HTTPY_INIT");
}

void add_call_command(CLI::App& cli, call_options& call) {
    auto* cmd = cli.add_subcommand(
        "call", "Run one request through a handler without a server, like `curl -i` into Python");
    add_app_options(cmd, call.app);
    cmd->add_option("method", call.method, "Request method, e.g. GET")->required();
    cmd->add_option("target", call.target, "Request target, e.g. '/hello/bob?x=1'")->required();
    cmd->add_option("-H,--header", call.headers, "Request header 'Name: value' (repeatable)");
    auto* data = cmd->add_option("-d,--data", call.body, "Request body");
    cmd->add_option("--data-file", call.data_file, "Read the request body from a file")
        ->excludes(data);
    cmd->add_flag("--no-init", call.no_init, "Skip the module's init function: no routing")
        ->excludes(cmd->get_option("--init"));
    cmd->add_flag("--body-bytes", call.body_bytes, "Hand the body to Python as bytes, not str");
    cmd->add_option("--handler-timeout", call.handler_timeout,
                    "Seconds a handler may run before TimeoutError is raised in it; 0: never")
        ->capture_default_str()->check(duration_seconds);
}

struct serve_durations {
    double handler_timeout, header_timeout, body_timeout, idle_timeout, write_timeout, drain_timeout,
        drain_delay, tls_handshake_timeout;
};

// HTTPS: the certificate and key, client certificates, the handshake's timeout.
void add_tls_options(CLI::App* cmd, httpy::server_options& http, serve_durations& d) {
    cmd->add_option("--certfile", http.certfile,
                    "Serve HTTPS with this PEM certificate (followed by its chain); SIGHUP "
                    "reloads it")
        ->envname("HTTPY_CERTFILE");
    cmd->add_option("--keyfile", http.keyfile,
                    "The unencrypted PEM private key of --certfile (default: in the certificate "
                    "file)")
        ->envname("HTTPY_KEYFILE");
    cmd->add_option("--ca-certs", http.ca_certs,
                    "HTTPS: require a client certificate signed by one of these PEM CA "
                    "certificates")
        ->envname("HTTPY_CA_CERTS");
    cmd->add_option("--tls-handshake-timeout", d.tls_handshake_timeout,
                    "Seconds a client has to complete the TLS handshake")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_TLS_HANDSHAKE_TIMEOUT");
}

void add_serve_command(CLI::App& cli, serve_options& serve, std::string& bind,
                       serve_durations& d) {
    auto* cmd = cli.add_subcommand("serve", "Serve a Python handler over HTTP/1.1");
    auto& http = serve.http;
    auto& python = serve.python;
    add_app_options(cmd, serve.app);
    cmd->add_option("--bind", bind, "Address to listen on, HOST:PORT (port 0: any free port)")
        ->capture_default_str()->envname("HTTPY_BIND");
    cmd->add_option("--threads", http.io_threads, "IO threads per process; 0: one per core")
        ->capture_default_str()->envname("HTTPY_THREADS");
    cmd->add_option("--workers", serve.workers,
                    "Worker processes under a supervisor, sharing the port (SIGHUP reloads them); "
                    "0: serve from this process")
        ->capture_default_str()->envname("HTTPY_WORKERS");
    cmd->add_option("--max-requests", serve.max_requests,
                    "Replace a worker after about this many requests; 0: never (implies a supervisor)")
        ->capture_default_str()->envname("HTTPY_MAX_REQUESTS");
    cmd->add_option("--max-worker-memory", serve.max_worker_memory_mib,
                    "Replace a worker whose resident memory passes this many MiB; 0: never (implies "
                    "a supervisor)")
        ->capture_default_str()->envname("HTTPY_MAX_WORKER_MEMORY");
    cmd->add_option("--python-threads", python.threads,
                    "Synchronous handlers that may run (or block) at once")
        ->capture_default_str()->envname("HTTPY_PYTHON_THREADS");
    cmd->add_option("--queue-limit", python.queue_limit,
                    "Calls that may wait for a Python thread; beyond it: 503 with Retry-After")
        ->capture_default_str()->envname("HTTPY_QUEUE_LIMIT");
    cmd->add_option("--handler-timeout", d.handler_timeout,
                    "Seconds a handler may run before TimeoutError is raised in it and 504 is "
                    "answered; 0: never")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_HANDLER_TIMEOUT");
    cmd->add_option("--max-body", http.max_body_bytes, "Largest request body in bytes; larger: 413")
        ->capture_default_str()->envname("HTTPY_MAX_BODY");
    cmd->add_option("--spool-above", http.spool_body_above,
                    "Request bodies larger than this many bytes are written to a temporary file "
                    "in TMPDIR as they arrive, not held in memory; 0: never")
        ->capture_default_str()->envname("HTTPY_SPOOL_ABOVE");
    cmd->add_option("--max-header", http.max_header_bytes,
                    "Largest request line and headers in bytes; larger: 431")
        ->capture_default_str()->envname("HTTPY_MAX_HEADER");
    cmd->add_option("--max-header-count", http.max_header_count,
                    "Most header fields in a request; more: 431")
        ->capture_default_str()->envname("HTTPY_MAX_HEADER_COUNT");
    cmd->add_option("--max-query-params", http.max_query_params,
                    "Most query parameters in a request target; more: 400")
        ->capture_default_str()->envname("HTTPY_MAX_QUERY_PARAMS");
    cmd->add_option("--header-timeout", d.header_timeout,
                    "Seconds a client has to send the request line and headers; then 408")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_HEADER_TIMEOUT");
    cmd->add_option("--body-timeout", d.body_timeout, "Seconds a client has to send the body; then 408")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_BODY_TIMEOUT");
    cmd->add_option("--idle-timeout", d.idle_timeout,
                    "Seconds an idle keep-alive connection stays open")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_IDLE_TIMEOUT");
    cmd->add_option("--write-timeout", d.write_timeout,
                    "Seconds a client has to take a response; then the connection closes")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_WRITE_TIMEOUT");
    cmd->add_option("--max-connections", http.max_connections,
                    "Open connections; beyond it: 503 and close")
        ->capture_default_str()->envname("HTTPY_MAX_CONNECTIONS");
    cmd->add_option("--drain-timeout", d.drain_timeout,
                    "Seconds in-flight requests get to finish on SIGTERM/SIGINT")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_DRAIN_TIMEOUT");
    cmd->add_flag("--reload", serve.reload,
                  "Development: replace the workers when a .py file under the app's folder "
                  "changes (code that fails to import keeps the old ones serving)")
        ->envname("HTTPY_RELOAD");
    cmd->add_option("--drain-delay", d.drain_delay,
                    "Seconds, on SIGTERM/SIGINT, that /readyz fails while the server still serves "
                    "(every response with Connection: close) before the drain starts")
        ->capture_default_str()->check(duration_seconds)->envname("HTTPY_DRAIN_DELAY");
    cmd->add_option("--admin-bind", serve.admin_bind,
                    "Admin listener HOST:PORT serving /metrics, /healthz and /readyz without "
                    "Python (default: none)")
        ->envname("HTTPY_ADMIN_BIND");
    cmd->add_option("--forwarded-allow-ips", http.forwarded_allow_ips,
                    "Peers whose Forwarded / X-Forwarded-For, -Proto, -Host headers name the "
                    "client, scheme and host: addresses, CIDR ranges, or *")
        ->capture_default_str()->envname("HTTPY_FORWARDED_ALLOW_IPS");
    cmd->add_option("--access-log", http.access_log,
                    "Log one line per request to FILE (reopened on SIGUSR1), or to the standard "
                    "output with - or no FILE")
        ->expected(0, 1)->default_str("-")->envname("HTTPY_ACCESS_LOG");
    cmd->add_option("--access-log-format", http.access_log_format,
                    "The access log's lines: common, combined, json, or a template such as "
                    "'{client} {method} {target} {status} {duration_ms}'")
        ->capture_default_str()->envname("HTTPY_ACCESS_LOG_FORMAT");
    add_tls_options(cmd, http, d);
    cmd->add_flag("--body-bytes", python.body_as_bytes, "Hand the body to Python as bytes, not str")
        ->envname("HTTPY_BODY_BYTES");
    cmd->add_option("--max-response", python.max_response_bytes,
                    "Largest response body a handler may return, in bytes; larger: 500")
        ->capture_default_str()->envname("HTTPY_MAX_RESPONSE");
    cmd->add_flag("--debug", python.expose_errors,
                  "Development only: send the traceback or conversion error in 500 bodies")
        ->envname("HTTPY_DEBUG");
}

// The exit code `code` of a command that has ended; when it left Python unfinalised (a handler
// thread still runs), the process ends here with it instead (interpreter::left_unfinalised).
int ended(int code) {
    if (httpy::interpreter::left_unfinalised()) {
        spdlog::default_logger()->flush();
        std::fflush(nullptr);
        std::_Exit(code);
    }
    return code;
}

} // namespace

int main(int argc, char** argv) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("httpy"));
    spdlog::set_pattern(httpy::cli::log_pattern());

    CLI::App cli{"httpy: serve Python request handlers from a native HTTP server"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string(httpy::version));
    call_options call;
    add_call_command(cli, call);

    serve_options serve;
    std::string bind = "127.0.0.1:8080";
    auto ms = [](std::chrono::milliseconds v) { return static_cast<double>(v.count()) / 1000.0; };
    serve_durations d{ms(serve.python.handler_timeout), ms(serve.http.header_timeout),
                      ms(serve.http.body_timeout),      ms(serve.http.idle_timeout),
                      ms(serve.http.write_timeout),     ms(serve.http.drain_timeout),
                      ms(serve.drain_delay),            ms(serve.http.tls_handshake_timeout)};
    add_serve_command(cli, serve, bind, d);

    try {
        cli.parse(argc, argv);
        if (cli.got_subcommand("serve")) {
            httpy::cli::parse_bind(bind, serve.http);
            httpy::server_options admin; // checked here, used once the app is loaded
            if (!serve.admin_bind.empty())
                httpy::cli::parse_bind(serve.admin_bind, admin, "--admin-bind");
            httpy::detail::trusted_proxies{serve.http.forwarded_allow_ips}; // checked early
            if (auto tls = httpy::detail::tls_files_of(serve.http)) // before Python, and workers
                httpy::detail::load_tls_context(*tls);
        }
    } catch (const CLI::ParseError& e) {
        return cli.exit(e) == 0 ? 0 : 2;
    } catch (const std::invalid_argument& e) {
        spdlog::error("{}", e.what());
        return 2;
    } catch (const httpy::config_error& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    if (cli.got_subcommand("call"))
        return ended(httpy::cli::run_call(call));
    for (auto [target, seconds] :
         {std::pair{&serve.python.handler_timeout, d.handler_timeout},
          {&serve.http.header_timeout, d.header_timeout}, {&serve.http.body_timeout, d.body_timeout},
          {&serve.http.idle_timeout, d.idle_timeout}, {&serve.http.write_timeout, d.write_timeout},
          {&serve.http.drain_timeout, d.drain_timeout}, {&serve.drain_delay, d.drain_delay},
          {&serve.http.tls_handshake_timeout, d.tls_handshake_timeout}})
        seconds_option{*target, seconds}.apply();
    return ended(httpy::cli::run_serve(serve));
}
