#include "cli/source_watch.hpp"

#include <cerrno>
#include <filesystem>
#include <string_view>
#include <system_error>

#include <sys/inotify.h>
#include <unistd.h>

namespace httpy::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t file_events =
    IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

bool skipped(const fs::path& folder) {
    const std::string name = folder.filename().string();
    if (name.starts_with(".") || name == "__pycache__" || name == "node_modules")
        return true;
    std::error_code ec;
    return fs::exists(folder / "pyvenv.cfg", ec);
}

} // namespace

source_watch::source_watch(const std::string& root) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0)
        throw std::system_error(errno, std::system_category(), "inotify_init1");
    const int wd = ::inotify_add_watch(fd_, root.c_str(), file_events | IN_ONLYDIR);
    if (wd < 0) {
        const int error = errno;
        ::close(fd_);
        throw std::system_error(error, std::system_category(), "watching " + root);
    }
    folders_.emplace(wd, root);
    std::error_code ec;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !skipped(it->path()))
            watch_tree(it->path().string());
}

source_watch::~source_watch() { ::close(fd_); }

// A folder that cannot be watched (removed meanwhile, out of watches) is left out.
void source_watch::watch_tree(const std::string& folder) {
    const int wd = ::inotify_add_watch(fd_, folder.c_str(), file_events | IN_ONLYDIR);
    if (wd < 0)
        return;
    folders_.emplace(wd, folder);
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !skipped(it->path()))
            watch_tree(it->path().string());
}

bool source_watch::changed() {
    alignas(inotify_event) char buffer[16 * 1024];
    bool python = false;
    for (;;) {
        const ssize_t n = ::read(fd_, buffer, sizeof buffer);
        if (n <= 0)
            return python; // EAGAIN: nothing more pending
        for (ssize_t at = 0; at < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
            const std::string_view name = e->len > 0 ? std::string_view(e->name) : "";
            const auto folder = folders_.find(e->wd);
            if (e->mask & IN_IGNORED) {
                if (folder != folders_.end())
                    folders_.erase(folder);
                continue;
            }
            if (folder == folders_.end())
                continue;
            const fs::path path = fs::path(folder->second) / std::string(name);
            if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && (e->mask & IN_ISDIR) && !skipped(path))
                watch_tree(path.string());
            if (!(e->mask & IN_ISDIR) && name.ends_with(".py"))
                python = true;
        }
    }
}

} // namespace httpy::cli
