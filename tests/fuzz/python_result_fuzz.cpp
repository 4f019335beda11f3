// libFuzzer target: a handler's return value, turned into a response as the executor does it.
//
// The input is a program for python_value_decoder, which builds arbitrarily nested Python values
// (tuples, lists, dicts, text with surrogates, CR, LF and NUL, bytes, huge ints, odd sequences
// and lying subclasses); the top of its stack goes to marshal::response_from_python exactly as
// a handler's result does. The conversion must give a response or a conversion_error, never
// crash or throw anything else, leave no Python error set and no reference count changed, and
// agree with python_result_helpers.expected_response, a second reading of SPEC.md in Python.

#include <pybind11/embed.h>

#include "httpy/header_name.hpp"
#include "marshal/conversion_error.hpp"
#include "marshal/response_from_python.hpp"
#include "tests/fuzz/invariant.hpp"
#include "tests/fuzz/python_value_decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace py = pybind11;
using httpy::fuzz::require;

namespace {

// Set once by LLVMFuzzerInitialize and never destroyed: the interpreter is never finalised.
py::dict* helpers = nullptr;

// Objects CPython shares process-wide: None, the bools, small ints, the empty tuple, empty and
// one-character str and bytes. Any code may take and drop references to them, so their counts
// say nothing about the conversion.
bool is_shared(py::handle o) {
    PyObject* p = o.ptr();
    if (p == Py_None || PyBool_Check(p))
        return true;
    if (PyLong_CheckExact(p)) {
        int overflow = 0;
        const long value = PyLong_AsLongAndOverflow(p, &overflow);
        return overflow == 0 && value >= -5 && value <= 256;
    }
    if (PyUnicode_CheckExact(p))
        return PyUnicode_GET_LENGTH(p) <= 1;
    if (PyBytes_CheckExact(p))
        return PyBytes_GET_SIZE(p) <= 1;
    return PyTuple_CheckExact(p) && PyTuple_GET_SIZE(p) == 0;
}

// -1 for shared objects, whose counts are not compared.
std::vector<Py_ssize_t> reference_counts(const std::vector<py::object>& objects) {
    std::vector<Py_ssize_t> counts;
    counts.reserve(objects.size());
    for (const auto& object : objects)
        counts.push_back(is_shared(object) ? -1 : Py_REFCNT(object.ptr()));
    return counts;
}

// A count can only differ because a reference leaked or was stolen; a cycle that Python code
// inside the conversion created would hold one until the collector runs, so collect first.
void check_reference_counts(const std::vector<py::object>& objects,
                            const std::vector<Py_ssize_t>& before) {
    if (reference_counts(objects) == before)
        return;
    py::module_::import("gc").attr("collect")();
    const auto after = reference_counts(objects);
    for (std::size_t i = 0; i < objects.size(); ++i)
        if (after[i] != before[i])
            std::fprintf(stderr, "value %zu (%s): %zd references before, %zd after\n", i,
                         Py_TYPE(objects[i].ptr())->tp_name, before[i], after[i]);
    require(after == before, "the conversion changed a reference count");
}

// Messages go to the log as one line each.
void check_message(std::string_view message) {
    require(message.starts_with("go_request returned "), "a message not naming the handler");
    require(message.find_first_of("\r\n") == message.npos, "a message spanning several lines");
}

void check_response(const httpy::response& r) {
    require(r.status >= 200 && r.status <= 599, "a status outside 200..599");
    for (const auto& [name, values] : r.headers) {
        require(httpy::is_header_token(name), "a header name that is not a token");
        for (const auto& value : values)
            require(!httpy::has_forbidden_header_chars(value), "a header value with CR, LF or NUL");
    }
}

constexpr std::size_t no_body_limit = std::numeric_limits<std::size_t>::max();

// The conversion as the executor runs it; nullopt for a conversion_error.
std::optional<httpy::response> convert(const py::object& result, std::size_t max_body_bytes) {
    try {
        auto r = httpy::marshal::response_from_python(result, "go_request", max_body_bytes);
        check_response(r);
        return r;
    } catch (const httpy::marshal::conversion_error& e) {
        check_message(e.what());
        return std::nullopt;
    }
}

// The response body limit at its edge: a body of n bytes passes a limit of n, and a limit of
// n - 1 refuses it.
void check_body_limit(const py::object& result, const httpy::response& converted) {
    const std::size_t n = converted.body.size();
    const auto at_limit = convert(result, n);
    require(at_limit && at_limit->body == converted.body, "a body refused at its own size");
    require(n == 0 || !convert(result, n - 1), "a body accepted beyond the limit");
}

std::string bytes_of(py::handle bytes) {
    return py::cast<std::string>(bytes);
}

[[noreturn]] void disagree(const char* what, const py::object& result, const py::object& expected) {
    const auto show = [](const py::object& o) {
        try {
            return py::cast<std::string>(py::repr(o));
        } catch (const std::exception&) { // repr raised, or gave text with a lone surrogate
            PyErr_Clear();
            return std::string("<unprintable>");
        }
    };
    std::fprintf(stderr, "result:   %s\nexpected: %s\n", show(result).c_str(),
                 show(expected).c_str());
    require(false, what);
    std::abort();
}

// `expected` is (status, body, [(name, [value, ...]), ...]) or None.
void compare(const std::optional<httpy::response>& converted, const py::object& result,
             const py::object& expected) {
    if (expected.is_none() != !converted)
        disagree(converted ? "a response for a result SPEC.md refuses"
                           : "a conversion error for a result SPEC.md accepts",
                 result, expected);
    if (!converted)
        return;
    const auto status = expected[py::int_(0)].cast<int>();
    const py::list headers = expected[py::int_(2)];
    if (converted->status != status || converted->body != bytes_of(expected[py::int_(1)]) ||
        converted->headers.size() != headers.size())
        disagree("a response other than the expected one", result, expected);
    std::size_t i = 0;
    for (const auto& [name, values] : converted->headers) {
        const py::tuple entry = headers[i++];
        const py::list expected_values = entry[1];
        bool same = name == bytes_of(entry[0]) && values.size() == expected_values.size();
        for (std::size_t v = 0; same && v < values.size(); ++v)
            same = values[v] == bytes_of(expected_values[v]);
        if (!same)
            disagree("headers other than the expected ones", result, expected);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Every object on the C heap (PYTHONMALLOC=malloc): ASan then checks CPython's objects too,
    // and LeakSanitizer scans them. pymalloc's arenas come from mmap(), which LeakSanitizer
    // does not scan, so at exit it reports the CPython blocks that only they point to;
    // with malloc it reports nothing, and needs no suppression.
    PyPreConfig pre;
    PyPreConfig_InitPythonConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    const PyStatus status = Py_PreInitialize(&pre);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);
    py::initialize_interpreter(false); // the fuzzer keeps its own signal handlers
    helpers = new py::dict();
    (*helpers)["__name__"] = "python_result_helpers";
    py::eval_file(HTTPY_FUZZ_HELPERS, *helpers);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    httpy::fuzz::python_value_decoder decoder(*helpers);
    const py::object result = decoder.decode({data, size});
    const auto before = reference_counts(decoder.made());
    const auto converted = convert(result, no_body_limit);
    require(!PyErr_Occurred(), "a Python error left set by the conversion");
    check_reference_counts(decoder.made(), before);
    compare(converted, result, (*helpers)["expected_response"](result));
    if (converted)
        check_body_limit(result, *converted);
    return 0;
}
