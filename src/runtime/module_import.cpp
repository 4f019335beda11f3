#include <pybind11/pybind11.h>

#include "runtime/module_import.hpp"

#include "httpy/config_error.hpp"

#include <filesystem>
#include <optional>

namespace py = pybind11;
namespace fs = std::filesystem;

namespace httpy::detail {

namespace {

struct kept_module {
    std::string path;
    py::object module;
};

// Guarded by the GIL. Never destroyed: a Python reference must not be released at exit, after
// finalisation (interpreter's destructor releases it first).
std::optional<kept_module>& kept() {
    static auto* slot = new std::optional<kept_module>();
    return *slot;
}

bool names_a_file(std::string_view module) {
    return module.ends_with(".py") || module.find('/') != std::string_view::npos;
}

void put_first_on_sys_path(const fs::path& folder) {
    py::list path = py::module_::import("sys").attr("path");
    py::str entry(folder.string());
    if (!path.contains(entry))
        path.insert(0, entry);
}

// Imports the file under its stem name, exactly that file even when the name is also a
// module elsewhere on sys.path.
py::object import_file(const fs::path& path, const std::string& file) {
    put_first_on_sys_path(path.parent_path());
    auto util = py::module_::import("importlib.util");
    const std::string name = path.stem().string();
    py::object spec = util.attr("spec_from_file_location")(name, path.string());
    if (spec.is_none())
        throw config_error("cannot import " + file + ": not a Python source file");
    py::object module = util.attr("module_from_spec")(spec);
    py::module_::import("sys").attr("modules")[py::str(name)] = module;
    spec.attr("loader").attr("exec_module")(module);
    return module;
}

fs::path file_of(const std::string& module) {
    const fs::path path = fs::absolute(module);
    if (!fs::is_regular_file(path))
        throw config_error("handler file not found: " + module);
    return path;
}

} // namespace

py::object import_module(const std::string& module) {
    if (!names_a_file(module)) {
        put_first_on_sys_path(fs::current_path());
        return py::module_::import(module.c_str());
    }
    const fs::path path = file_of(module);
    if (auto& k = kept(); k && k->path == path.string()) {
        py::object taken = std::move(k->module);
        k.reset();
        return taken;
    }
    return import_file(path, module);
}

py::object import_module_to_keep(const std::string& module) {
    if (!names_a_file(module))
        return import_module(module);
    const fs::path path = file_of(module);
    if (auto& k = kept(); k && k->path == path.string())
        return k->module; // looked into again: still the one execution
    py::object imported = import_file(path, module);
    kept() = kept_module{path.string(), imported};
    return imported;
}

void release_kept_module() noexcept { kept().reset(); }

} // namespace httpy::detail
