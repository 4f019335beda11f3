#include "server/http_date.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <clocale>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

using httpy::detail::format_http_date;
using httpy::detail::http_date;

namespace {

using namespace std::chrono;

std::string formatted(sys_seconds t) {
    std::array<char, httpy::detail::http_date_size> out{};
    return std::string(format_http_date(t, out));
}

// Switches LC_TIME to a non-English locale for the scope: an installed one, or one compiled
// with localedef into a temporary folder (found through LOCPATH). False when neither works.
bool use_german_time_names() {
    for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8"})
        if (std::setlocale(LC_TIME, name))
            return true;
    const auto dir = std::filesystem::temp_directory_path() / "httpy-http-date-test-locales";
    std::filesystem::create_directories(dir);
    const std::string command = "localedef -i de_DE -f UTF-8 " + (dir / "de_DE.UTF-8").string() +
                                " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0)
        return false;
    ::setenv("LOCPATH", dir.c_str(), 1);
    return std::setlocale(LC_TIME, "de_DE.UTF-8") != nullptr;
}

const std::regex imf_fixdate(
    "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    "[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT");

} // namespace

TEST_CASE("a fixed time point is formatted as RFC 9110's example IMF-fixdate") {
    CHECK(formatted(sys_days{1994y / November / 6} + 8h + 49min + 37s) ==
          "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(formatted(sys_seconds{}) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(formatted(sys_days{2024y / February / 29} + 23h + 59min + 59s) ==
          "Thu, 29 Feb 2024 23:59:59 GMT");
    CHECK(formatted(sys_days{2000y / May / 1} + 12h) == "Mon, 01 May 2000 12:00:00 GMT");
}

TEST_CASE("every day and month name is English") {
    const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned m = 1; m <= 12; ++m) {
        const sys_days first = sys_days{2023y / month{m} / 1};
        const std::string text = formatted(first);
        CHECK(text.substr(8, 3) == months[m - 1]);
        CHECK(text.substr(0, 3) == days[weekday(first).c_encoding()]);
    }
}

TEST_CASE("the Date header stays English under a German LC_TIME") {
    REQUIRE_MESSAGE(use_german_time_names(), "no German locale installed and localedef failed");
    const std::string now(http_date());
    std::setlocale(LC_TIME, "C");
    CHECK_MESSAGE(std::regex_match(now, imf_fixdate), now);
}
