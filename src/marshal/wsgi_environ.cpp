#include "marshal/wsgi_environ.hpp"

#include <pybind11/pybind11.h>

#include "marshal/interned_name.hpp"
#include "marshal/python_text.hpp"
#include "marshal/spooled_body.hpp"

#include <boost/beast/core/string.hpp>

#include <array>
#include <charconv>
#include <string>

namespace py = pybind11;

namespace httpy::marshal {

namespace {

using detail::steal_or_throw;

py::object latin1(std::string_view s) {
    return steal_or_throw(
        PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
}

bool ascii(std::string_view s) noexcept {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80)
            return false;
    return true;
}

// A value as a latin-1 str, shared from the name cache when it is short ASCII (where latin-1
// and the cache's UTF-8 agree): the server's own values, the client's address and most header
// values (`*/*`, `keep-alive`, the Host) repeat from one request to the next.
py::object value(std::string_view s) {
    constexpr std::size_t shared_up_to = 24; // longer ones (ids, cookies, user agents) vary
    if (s.size() <= shared_up_to && ascii(s))
        return interned_name(s);
    return latin1(s);
}

void set(py::handle dict, std::string_view key, py::handle value) {
    if (PyDict_SetItem(dict.ptr(), interned_name(key).ptr(), value.ptr()) != 0)
        throw py::error_already_set();
}

void set_value(py::handle dict, std::string_view key, std::string_view text) {
    set(dict, key, value(text));
}

// `n` in decimal.
std::string decimal(std::uint64_t n) {
    std::array<char, 24> digits{};
    auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n);
    return std::string(digits.data(), end);
}

// "HTTP_USER_AGENT" for "User-Agent"; false for a name holding '_'.
bool cgi_name(std::string_view name, std::string& out) {
    out.assign("HTTP_");
    for (char c : name) {
        if (c == '_')
            return false;
        out.push_back(c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    }
    return true;
}

// The values of one header as one str: joined with ", ", or "; " for Cookie (RFC 9113 8.2.3).
py::object joined(std::string_view name, const fields::value_list& values) {
    if (values.size() == 1)
        return value(values.front());
    const std::string_view separator = boost::beast::iequals(name, "Cookie") ? "; " : ", ";
    std::string all;
    for (const auto& v : values) {
        if (!all.empty())
            all.append(separator);
        all.append(v);
    }
    return latin1(all);
}

bool under_root(std::string_view path, std::string_view root) {
    return !root.empty() && path.starts_with(root) &&
           (path.size() == root.size() || path[root.size()] == '/');
}

// The body as a binary file object: `bytes_io(body)` for a body in memory, a buffered reader
// of its spool file for a spooled one.
py::object wsgi_input(const request& req, py::handle bytes_io) {
    if (req.body_spool)
        return open_spooled_body(*req.body_spool);
    auto body = steal_or_throw(
        PyBytes_FromStringAndSize(req.body.data(), static_cast<Py_ssize_t>(req.body.size())));
    PyObject* arg = body.ptr();
    return steal_or_throw(PyObject_Vectorcall(bytes_io.ptr(), &arg, 1, nullptr));
}

} // namespace

py::dict wsgi_constant_environ(py::handle errors, py::handle file_wrapper, bool multiprocess) {
    py::dict d;
    d["wsgi.version"] = py::make_tuple(1, 0);
    d["wsgi.url_scheme"] = py::str("http");
    d["wsgi.errors"] = errors;
    d["wsgi.file_wrapper"] = file_wrapper;
    d["wsgi.multithread"] = py::bool_(true);
    d["wsgi.multiprocess"] = py::bool_(multiprocess);
    d["wsgi.run_once"] = py::bool_(false);
    d["wsgi.input_terminated"] = py::bool_(true);
    return d;
}

py::dict wsgi_environ(const request& req, py::handle constant, std::string_view root_path,
                      py::handle bytes_io, bool& dropped_underscore) {
    auto env = steal_or_throw<py::dict>(PyDict_Copy(constant.ptr()));
    set(env, "REQUEST_METHOD", interned_name(req.method));
    const std::string_view path = req.path;
    if (under_root(path, root_path)) {
        set_value(env, "SCRIPT_NAME", root_path);
        set(env, "PATH_INFO", latin1(path.substr(root_path.size())));
    } else {
        set_value(env, "SCRIPT_NAME", {});
        set(env, "PATH_INFO", latin1(path));
    }
    set(env, "QUERY_STRING", latin1(req.query_string));
    set_value(env, "SERVER_PROTOCOL", req.version == 10 ? "HTTP/1.0" : "HTTP/1.1");
    set_value(env, "SERVER_NAME", req.local_address.empty() ? "localhost" : req.local_address);
    set_value(env, "SERVER_PORT", decimal(req.local_port));
    set_value(env, "REMOTE_ADDR", req.remote_address);
    set(env, "REMOTE_PORT", latin1(decimal(req.remote_port))); // varies: not shared
    if (req.scheme != "http") // the constant part says http
        set_value(env, "wsgi.url_scheme", req.scheme);

    bool length_sent = false;
    std::string key;
    for (const auto& [name, values] : req.headers) {
        if (boost::beast::iequals(name, "Content-Length")) {
            length_sent = true; // the real length goes in below
            continue;
        }
        if (boost::beast::iequals(name, "Content-Type")) {
            set(env, "CONTENT_TYPE", joined(name, values));
            continue;
        }
        if (!cgi_name(name, key)) {
            dropped_underscore = true;
            continue;
        }
        set(env, key, joined(name, values));
    }
    if (length_sent || req.body_size() != 0)
        set(env, "CONTENT_LENGTH", latin1(decimal(req.body_size())));
    set(env, "wsgi.input", wsgi_input(req, bytes_io));
    return env;
}

} // namespace httpy::marshal
