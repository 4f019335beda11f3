#pragma once

#include <pybind11/pytypes.h>

#include <string>

namespace httpy::marshal::detail {

/// Takes ownership of `p`, a new reference returned by a C API call, as a `T` handle.
/// Requires: GIL held.
/// Throws: pybind11::error_already_set (the error the call set) when `p` is null.
template <class T = pybind11::object>
T steal_or_throw(PyObject* p) {
    if (p == nullptr)
        throw pybind11::error_already_set();
    return pybind11::reinterpret_steal<T>(p);
}

/// The name of `obj`'s type as Python spells it, e.g. `int` or `NoneType`, escaped and cut as
/// `display_str` does: a class name may hold CR, LF or anything else.
/// Requires: GIL held; `obj` not null.
std::string type_name(pybind11::handle obj);

/// The str `str` as it may appear in a one-line log message: lone surrogates as `\udcxx`, CR,
/// LF and `"` backslash-escaped, other control characters as `\xNN`, and cut after 200 bytes
/// (never inside a UTF-8 sequence) with `...`. `<unprintable>` when it cannot be encoded.
/// Requires: GIL held; `str` a str. Never throws a Python error (any raised is cleared).
std::string display_str(pybind11::handle str);

/// `repr(obj)` shown as `display_str` shows a str; `<unprintable TYPE>` when repr raises.
/// Requires: GIL held. Never throws a Python error (any raised is cleared).
std::string display_repr(pybind11::handle obj);

/// The str `str` encoded as UTF-8 with `surrogateescape`, so the bytes a request brought in
/// (see request_to_python) go back out unchanged.
/// Requires: GIL held; `str` a str.
/// Throws: pybind11::error_already_set (UnicodeEncodeError for a surrogate that stands for no
/// byte, such as `\ud800`).
std::string encode_utf8(pybind11::handle str);

} // namespace httpy::marshal::detail
