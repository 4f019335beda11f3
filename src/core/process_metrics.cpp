#include "httpy/metrics.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

namespace httpy {

namespace {

struct process_stat {
    double cpu_seconds = 0;
    double start_time = 0; // seconds since the epoch
    double virtual_bytes = 0;
    double resident_bytes = 0;
};

std::optional<std::string> read_file(const char* path) {
    std::ifstream in(path);
    if (!in)
        return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The boot time from /proc/stat's `btime`: process start times count clock ticks from it.
std::optional<double> boot_time() {
    const auto stat = read_file("/proc/stat");
    if (!stat)
        return std::nullopt;
    const auto at = stat->find("\nbtime ");
    if (at == std::string::npos)
        return std::nullopt;
    return std::stod(stat->substr(at + 7));
}

// /proc/self/stat (proc(5)): fields after the command name, which is in parentheses and may
// hold spaces, so counting starts after its closing one.
std::optional<process_stat> read_stat() {
    const auto stat = read_file("/proc/self/stat");
    const auto boot = boot_time();
    if (!stat || !boot)
        return std::nullopt;
    const auto close = stat->rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(stat->substr(close + 2));
    std::string field;
    double utime = 0, stime = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
    // Field 3 (state) is the first here; utime is 14, stime 15, starttime 22, vsize 23, rss 24.
    for (int n = 3; n <= 24 && fields >> field; ++n) {
        if (n == 14)
            utime = std::stod(field);
        else if (n == 15)
            stime = std::stod(field);
        else if (n == 22)
            start_ticks = std::stod(field);
        else if (n == 23)
            vsize = std::stod(field);
        else if (n == 24)
            rss_pages = std::stod(field);
    }
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return process_stat{.cpu_seconds = (utime + stime) / ticks,
                        .start_time = *boot + start_ticks / ticks,
                        .virtual_bytes = vsize,
                        .resident_bytes = rss_pages * static_cast<double>(::sysconf(_SC_PAGESIZE))};
}

std::uint64_t open_fds() {
    std::error_code ec;
    std::uint64_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec))
        ++n;
    return n > 0 ? n - 1 : 0; // the iterator's own descriptor is listed too
}

} // namespace

void write_process_metrics(metrics_writer& out) {
    const label_set none;
    if (const auto stat = read_stat()) {
        out.counter("process_cpu_seconds", "Total user and system CPU time spent in seconds.");
        out.value(none, stat->cpu_seconds);
        out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        out.value(none, stat->resident_bytes);
        out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
        out.value(none, stat->virtual_bytes);
        out.gauge("process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.");
        out.value(none, stat->start_time);
    }
    out.gauge("process_open_fds", "Number of open file descriptors.");
    out.value(none, open_fds());
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        out.gauge("process_max_fds", "Maximum number of open file descriptors.");
        out.value(none, static_cast<std::uint64_t>(limit.rlim_cur));
    }
}

} // namespace httpy
