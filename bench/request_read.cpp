// Benchmark: reading one request through request_reader (head screening, Beast's parser, target
// decoding), no network, as the number of query parameters or header fields grows. Before the
// hash index in httpy::fields, each new name was searched linearly, so the time grew with the
// square of the count; now it grows with the count.
//
// Usage: request_read [--repeats R]

#include "server/request_reader.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::string with_query(std::size_t keys) {
    std::string target = "/q?";
    for (std::size_t i = 0; i < keys; ++i)
        target += "key" + std::to_string(i) + "=v&";
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

std::string with_headers(std::size_t fields) {
    std::string head = "GET / HTTP/1.1\r\nHost: t\r\n";
    for (std::size_t i = 0; i < fields; ++i)
        head += "X-Field-" + std::to_string(i) + ": v\r\n";
    return head + "\r\n";
}

// Median microseconds to read `request` once, over `repeats` reads.
double median_us(const std::string& request, int repeats) {
    httpy::server_options limits;
    limits.max_header_bytes = 1 << 20;
    limits.max_header_count = 1 << 20;
    limits.max_query_params = 1 << 20;
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        std::string bytes = request;
        const auto start = clock_type::now();
        httpy::detail::request_reader reader(limits);
        boost::system::error_code ec;
        reader.put({bytes.data(), bytes.size()}, ec);
        const auto end = clock_type::now();
        if (ec || !reader.done()) {
            std::fprintf(stderr, "request refused: %s\n", ec.message().c_str());
            std::exit(1);
        }
        times.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    int repeats = 21;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--repeats") == 0)
            repeats = std::atoi(argv[i + 1]);
    std::printf("| names | query keys: bytes | query keys: us | header fields: bytes "
                "| header fields: us |\n");
    std::printf("| ---: | ---: | ---: | ---: | ---: |\n");
    for (const std::size_t n : {10u, 100u, 1000u, 3000u, 9000u}) {
        const std::string query = with_query(n), headers = with_headers(n);
        std::printf("| %zu | %zu | %.1f | %zu | %.1f |\n", n, query.size(),
                    median_us(query, repeats), headers.size(), median_us(headers, repeats));
    }
}
