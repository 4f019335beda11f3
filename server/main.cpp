// The `httpy` command: `httpy call` runs one request through a Python handler.
#include "server/call_command.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("httpy"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    CLI::App cli{"httpy: serve Python request handlers from a native HTTP server"};
    cli.require_subcommand(1);

    httpy::cli::call_options call;
    auto* call_cmd = cli.add_subcommand(
        "call", "Run one request through a handler without a server, like `curl -i` into Python");
    call_cmd->add_option("handler", call.handler, "FILE.py[:FUNCTION] or MODULE[:FUNCTION]")
        ->required();
    call_cmd->add_option("method", call.method, "Request method, e.g. GET")->required();
    call_cmd->add_option("target", call.target, "Request target, e.g. '/hello/bob?x=1'")
        ->required();
    call_cmd->add_option("-H,--header", call.headers, "Request header 'Name: value' (repeatable)");
    auto* data = call_cmd->add_option("-d,--data", call.body, "Request body");
    call_cmd->add_option("--data-file", call.data_file, "Read the request body from a file")
        ->excludes(data);
    call_cmd->add_option("--init", call.init,
                         "Init function MODULE:FUNCTION (default: the handler module's go_init, "
                         "when it has one)");
    call_cmd->add_option("--handler-timeout", call.handler_timeout,
                         "Seconds a handler may run before TimeoutError is raised in it; 0: never")
        ->default_val(30.0);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = cli.exit(e);
        return code == 0 ? 0 : 2;
    }
    if (call_cmd->parsed())
        return httpy::cli::run_call(call);
    return 2;
}
