// Benchmark: the cost of the C++/Python boundary alone, no network.
//
// One typical request goes through marshal::call_handler + marshal::response_from_python
// against examples/worker.py:go_request, compared with the floor: the same function called
// from a Python loop with equivalent prebuilt arguments. The breakdown times the three steps
// apart. Prints a Markdown table on stdout (bench/boundary.sh puts it in docs/benchmarks.md).
//
// The same for a WSGI application (bench/compare_servers/wsgi_app.py's /hello): the environ
// built by marshal::wsgi_environ, the call with httpy's start_response, the list body and the
// head taken as the server takes them, against the app called from Python with a prebuilt
// environ.
//
// Usage: boundary [--iterations N] [--repeats R] [--handler FILE] [--wsgi-app FILE]

#include <pybind11/embed.h>

#include "httpy/interpreter.hpp"
#include "httpy/request.hpp"
#include "marshal/interned_name.hpp"
#include "marshal/request_to_python.hpp"
#include "marshal/response_from_python.hpp"
#include "marshal/wsgi_environ.hpp"
#include "marshal/wsgi_response.hpp"
#include "runtime/start_response.hpp"
#include "runtime/wsgi_support.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace py = pybind11;
using httpy::marshal::body_type;

namespace {

struct options {
    long iterations = 1'000'000;
    int repeats = 5;
    std::string handler = HTTPY_EXAMPLES "/worker.py";
    std::string wsgi_app = HTTPY_BENCH_APPS "/wsgi_app.py";
};

options parse_options(int argc, char** argv) {
    options opts;
    for (int i = 1; i < argc; i += 2) {
        const std::string_view flag = argv[i];
        if (i + 1 == argc)
            throw std::invalid_argument(std::string(flag) + " needs a value");
        if (flag == "--iterations")
            opts.iterations = std::atol(argv[i + 1]);
        else if (flag == "--repeats")
            opts.repeats = std::atoi(argv[i + 1]);
        else if (flag == "--handler")
            opts.handler = argv[i + 1];
        else if (flag == "--wsgi-app")
            opts.wsgi_app = argv[i + 1];
        else
            throw std::invalid_argument("unknown option " + std::string(flag));
    }
    if (opts.iterations < 1 || opts.repeats < 1)
        throw std::invalid_argument("--iterations and --repeats must be positive");
    return opts;
}

// GET /hello/bob?name=bob&lang=en as curl-like clients send it, routed by /hello/:target.
httpy::request typical_request() {
    httpy::request req;
    req.method = "GET";
    req.path = "/hello/bob";
    req.params = {{"target", {"bob"}}};
    req.query = {{"name", {"bob"}}, {"lang", {"en"}}};
    req.headers = {{"Host", {"127.0.0.1:8080"}},
                   {"User-Agent", {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"}},
                   {"Accept", {"*/*"}},
                   {"Accept-Encoding", {"gzip, deflate, br"}},
                   {"Connection", {"keep-alive"}},
                   {"X-Request-Id", {"7f3c2a9e-5b1d-4e8f-9a6c-0d2e4b6f8a1c"}}};
    req.body = R"({"greeting": "hi"})";
    return req;
}

// Imports `file` under its stem, exactly that file, as the server does.
py::object load_function(const std::string& file, const char* name) {
    const auto util = py::module_::import("importlib.util");
    const py::object spec = util.attr("spec_from_file_location")("bench_handler", file);
    if (spec.is_none())
        throw std::runtime_error("cannot import " + file);
    py::object module = util.attr("module_from_spec")(spec);
    spec.attr("loader").attr("exec_module")(module);
    return module.attr(name);
}

// The floor, timed inside Python: the handler called as Python code calls it.
constexpr const char* python_loops = R"py(
from time import perf_counter_ns

def floor(fn, args, n):
    method, path, params, query, headers, body = args
    start = perf_counter_ns()
    for _ in range(n):
        fn(method, path, params, query, headers, body)
    return perf_counter_ns() - start

def wsgi_floor(app, environ, n):
    def start_response(status, headers, exc_info=None):
        pass
    start = perf_counter_ns()
    for _ in range(n):
        for chunk in app(environ, start_response):
            pass
    return perf_counter_ns() - start

def empty(n):
    start = perf_counter_ns()
    for _ in range(n):
        pass
    return perf_counter_ns() - start
)py";

// Where results go so that the optimiser cannot drop the work that made them.
volatile std::size_t sink = 0;

PyObject* no_op(PyObject*, PyObject* const*, Py_ssize_t) { return Py_NewRef(Py_None); }

// A handler that costs next to nothing, so that call_handler on it times the marshal-in.
py::object no_op_function() {
    static PyMethodDef def{"no_op", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(no_op)),
                           METH_FASTCALL, nullptr};
    PyObject* fn = PyCFunction_New(&def, nullptr);
    if (fn == nullptr)
        throw py::error_already_set();
    return py::reinterpret_steal<py::object>(fn);
}

// Nanoseconds taken by `n` runs of `step`.
template <typename Step>
double time_loop(long n, Step&& step) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i)
        step();
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
        .count();
}

struct measurement {
    std::string name;
    std::function<double(long)> run; // total nanoseconds for n calls
    std::vector<double> per_call{};  // nanoseconds per call, one per repeat

    double median() const {
        auto sorted = per_call;
        std::sort(sorted.begin(), sorted.end());
        return sorted[sorted.size() / 2];
    }
    double spread() const {
        const auto [lo, hi] = std::minmax_element(per_call.begin(), per_call.end());
        return (*hi - *lo) / median();
    }
};

// Repeats are interleaved, so a burst of load from the other tenants of the machine hits
// every measurement alike instead of one of them.
void run_all(std::vector<measurement>& all, const options& opts) {
    for (auto& m : all)
        m.run(std::max(1L, opts.iterations / 10)); // warm-up: free lists, caches, branch history
    for (int r = 0; r < opts.repeats; ++r)
        for (auto& m : all)
            m.per_call.push_back(m.run(opts.iterations) / static_cast<double>(opts.iterations));
}

std::string rate(double ns) {
    char text[32];
    std::snprintf(text, sizeof text, "%.0fk", 1e6 / ns);
    return text;
}

void print_row(const std::string& name, double ns, std::string spread) {
    std::printf("| %s | %.0f | %s | %s |\n", name.c_str(), ns, rate(ns).c_str(), spread.c_str());
}

std::string percent(double fraction) { return std::to_string(std::lround(fraction * 100)) + "%"; }

// What the marshal-in hands over for `req`: dicts, lists, names (the method and every key) and
// other strings (path, body and every value).
std::array<std::size_t, 4> objects_made(const httpy::request& req) {
    std::array<std::size_t, 4> n{3, 0, 1, 2};
    for (const auto* f : {&req.params, &req.query, &req.headers})
        for (const auto& [name, values] : *f) {
            n[1] += 1;
            n[2] += 1;
            n[3] += values.size();
        }
    return n;
}

void report(const std::vector<measurement>& all, const options& opts, const httpy::request& req,
            double loop_ns) {
    const double full = all[0].median();
    const double floor = all[1].median();
    std::printf("Median of %d runs of %ld calls each, `go_request` from `examples/worker.py`; "
                "spread is (max - min) / median.\n\n",
                opts.repeats, opts.iterations);
    std::printf("| measurement | ns/call | calls/s | spread |\n| --- | ---: | ---: | ---: |\n");
    for (const auto& m : all)
        print_row(m.name, m.median(), percent(m.spread()));
    print_row("(a) + (b) + (c)", all[2].median() + all[3].median() + all[4].median(), "-");
    const double ratio = full / floor;
    std::printf("\n**Boundary / floor: %.2fx** (%s calls/s against %s calls/s; target <= 1.5x: "
                "%s).\n",
                ratio, rate(full).c_str(), rate(floor).c_str(), ratio <= 1.5 ? "met" : "not met");
    const auto [dicts, lists, names, strings] = objects_made(req);
    std::printf("\nThe floor includes %.0f ns/call of Python `for` loop overhead. Per request the "
                "marshal-in makes %zu dicts, %zu lists and %zu strings and hands over %zu names "
                "(method and keys, shared from a cache after the first request): alone it costs "
                "%.1fx the whole Python call of the floor.\n",
                loop_ns, dicts, lists, strings, names, all[2].median() / floor);
}

std::vector<measurement> measurements(py::handle fn, const httpy::request& req,
                                      const py::dict& loops) {
    // Built once, by the same marshal code, so the floor's arguments are equal to the real ones.
    const std::array<py::object, 6> args{
        httpy::marshal::interned_name(req.method),
        py::str(req.path),
        httpy::marshal::to_python(req.params),
        httpy::marshal::to_python(req.query),
        httpy::marshal::to_python(req.headers),
        httpy::marshal::body_to_python(req, body_type::str)};
    const py::tuple arg_tuple = py::make_tuple(args[0], args[1], args[2], args[3], args[4], args[5]);
    const py::object result = httpy::marshal::call_handler(fn, req, body_type::str);

    std::vector<measurement> all;
    all.push_back({"full boundary: marshal in + call + marshal out", [=, &req](long n) {
                       std::size_t bytes = 0;
                       const double ns = time_loop(n, [&] {
                           const auto r = httpy::marshal::call_handler(fn, req, body_type::str);
                           bytes += httpy::marshal::response_from_python(r).body.size();
                       });
                       sink = bytes;
                       return ns;
                   }});
    all.push_back({"floor: the same call from Python, prebuilt arguments", [=](long n) {
                       return loops["floor"](fn, arg_tuple, n).cast<double>();
                   }});
    all.push_back({"(a) marshal in: `call_handler` on a no-op C function", [&req](long n) {
                       const auto noop = no_op_function();
                       return time_loop(n, [&] {
                           httpy::marshal::call_handler(noop, req, body_type::str);
                       });
                   }});
    all.push_back({"(b) the call from C++, prebuilt arguments (`PyObject_Vectorcall`)",
                   [=](long n) {
                       // Borrowed from the tuple, which the lambda owns.
                       PyObject** items = PySequence_Fast_ITEMS(arg_tuple.ptr());
                       return time_loop(n, [&] {
                           PyObject* r = PyObject_Vectorcall(fn.ptr(), items, 6, nullptr);
                           if (r == nullptr)
                               throw py::error_already_set();
                           const auto owned = py::reinterpret_steal<py::object>(r);
                       });
                   }});
    all.push_back({"(c) marshal out: `response_from_python`", [=](long n) {
                       std::size_t bytes = 0;
                       const double ns = time_loop(n, [&] {
                           bytes += httpy::marshal::response_from_python(result).body.size();
                       });
                       sink = bytes;
                       return ns;
                   }});
    return all;
}

py::object steal(PyObject* p) {
    if (p == nullptr)
        throw py::error_already_set();
    return py::reinterpret_steal<py::object>(p);
}

// The WSGI request: the typical one on the path wsgi_app.py answers.
httpy::request wsgi_request() {
    httpy::request req = typical_request();
    req.path = "/hello";
    req.params = {};
    req.query_string = "name=bob&lang=en";
    req.remote_address = req.local_address = "127.0.0.1";
    req.remote_port = 40000;
    req.local_port = 8080;
    return req;
}

// The WSGI rows: full boundary, its floor, and the environ alone (d). `support` outlives them.
std::vector<measurement> wsgi_measurements(py::handle app, const httpy::request& req,
                                           const py::dict& loops,
                                           const httpy::detail::wsgi_support& support) {
    const py::dict constant = httpy::marshal::wsgi_constant_environ(
        support.errors, support.file_wrapper_type, false);
    auto environ = [&req, constant, &support] {
        bool dropped = false;
        return httpy::marshal::wsgi_environ(req, constant, "", support.bytes_io, dropped);
    };
    const py::dict prebuilt = environ();
    std::vector<measurement> all;
    all.push_back({"WSGI full boundary: environ + call + body and head", [=, &support](long n) {
                       std::size_t bytes = 0;
                       const double ns = time_loop(n, [&] {
                           const py::dict env = environ();
                           const py::object start_response =
                               httpy::detail::new_start_response(support.start_response_type, 1 << 20);
                           std::array<PyObject*, 2> args{env.ptr(), start_response.ptr()};
                           const py::object result =
                               steal(PyObject_Vectorcall(app.ptr(), args.data(), 2, nullptr));
                           httpy::response r;
                           std::size_t total = 0;
                           for (py::handle chunk : result)
                               httpy::marshal::append_wsgi_chunk(chunk, r.body, total, 1 << 20);
                           httpy::marshal::wsgi_head(
                               httpy::detail::start_response_status(start_response),
                               httpy::detail::start_response_headers(start_response), r);
                           bytes += r.body.size() + r.headers.size();
                       });
                       sink = bytes;
                       return ns;
                   }});
    all.push_back({"WSGI floor: the same app from Python, prebuilt environ", [=](long n) {
                       return loops["wsgi_floor"](app, prebuilt, n).cast<double>();
                   }});
    all.push_back({"(d) WSGI marshal in: `wsgi_environ`", [=](long n) {
                       return time_loop(n, [&] { environ(); });
                   }});
    return all;
}

void report_wsgi(const std::vector<measurement>& all, const options& opts, double go_in) {
    std::printf("\nThe same for a WSGI application: `app` from `%s`, `GET /hello` with the same "
                "headers and query, through `wsgi_environ`, httpy's `start_response`, the list "
                "body and the head as the server takes them.\n\n",
                opts.wsgi_app == options{}.wsgi_app ? "bench/compare_servers/wsgi_app.py"
                                                    : opts.wsgi_app.c_str());
    std::printf("| measurement | ns/call | calls/s | spread |\n| --- | ---: | ---: | ---: |\n");
    for (const auto& m : all)
        print_row(m.name, m.median(), percent(m.spread()));
    const double full = all[0].median();
    const double floor = all[1].median();
    std::printf("\n**WSGI boundary / floor: %.2fx** (%s calls/s against %s calls/s). The environ "
                "(d) costs %.2fx the go contract's six arguments (a).\n",
                full / floor, rate(full).c_str(), rate(floor).c_str(), all[2].median() / go_in);
}

int run(const options& opts) {
    py::gil_scoped_acquire gil;
    const py::object fn = load_function(opts.handler, "go_request");
    const httpy::request req = typical_request();
    py::dict ns;
    py::exec(python_loops, ns);
    const py::object wsgi_app = load_function(opts.wsgi_app, "app");
    const httpy::request wreq = wsgi_request();
    const auto support = httpy::detail::make_wsgi_support();
    auto all = measurements(fn, req, ns);
    const std::size_t go_rows = all.size();
    for (auto& m : wsgi_measurements(wsgi_app, wreq, ns, support))
        all.push_back(std::move(m));
    run_all(all, opts);
    const double loop_ns = ns["empty"](opts.iterations).cast<double>() /
                           static_cast<double>(opts.iterations);
    const std::vector<measurement> go(all.begin(), all.begin() + static_cast<long>(go_rows));
    const std::vector<measurement> wsgi(all.begin() + static_cast<long>(go_rows), all.end());
    report(go, opts, req, loop_ns);
    report_wsgi(wsgi, opts, go[2].median());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const options opts = parse_options(argc, argv);
        const httpy::interpreter python;
        return run(opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "boundary: %s\n", e.what());
        return 1;
    }
}
