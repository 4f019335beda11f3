#pragma once

#include <string>
#include <unordered_map>

namespace httpy::cli {

/// Watches a folder and its subfolders (inotify) for changes to Python sources: what
/// `httpy serve --reload` reloads on. Hidden folders, `__pycache__`, `node_modules` and virtual
/// environments (a folder holding `pyvenv.cfg`) are left out; folders created later are watched
/// as they appear.
class source_watch {
public:
    /// Throws: std::system_error when inotify cannot be set up or `root` cannot be watched.
    explicit source_watch(const std::string& root);
    ~source_watch();
    source_watch(const source_watch&) = delete;
    source_watch& operator=(const source_watch&) = delete;

    /// The descriptor to wait on (non-blocking): readable when events are pending.
    int fd() const noexcept { return fd_; }

    /// Reads the pending events; true when one of them created, changed, moved or deleted a
    /// `.py` file. Never blocks.
    bool changed();

    /// The folders watched now.
    std::size_t folders() const noexcept { return folders_.size(); }

private:
    void watch_tree(const std::string& folder);

    int fd_ = -1;
    std::unordered_map<int, std::string> folders_; // watch descriptor -> folder
};

} // namespace httpy::cli
