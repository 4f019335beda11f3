// Example: one request through a Python handler from C++, no server. Prints the answer.
#include <httpy/app.hpp>
#include <httpy/interpreter.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: consumer path/to/worker.py\n";
        return 2;
    }
    // Python first, then the app that holds Python references.
    httpy::interpreter python;
    httpy::app app({.handler = {argv[1], "go_request"}});
    // One blocking request through the handler: method, path (then params, query, headers, body).
    httpy::call_result r = app.call({"GET", "/ping"});
    std::cout << r.resp.status << ' ' << r.resp.body << '\n';
    return r.error ? 1 : 0;
}
