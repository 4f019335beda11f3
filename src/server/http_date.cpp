#include "server/http_date.hpp"

namespace httpy::detail {

namespace {

constexpr std::array<std::string_view, 7> day_names = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> month_names = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Writes the `width` last decimal digits of `value`, zero-padded, before `end`.
char* put_digits(char* end, unsigned value, int width) noexcept {
    for (int i = 0; i < width; ++i, value /= 10)
        *--end = static_cast<char>('0' + value % 10);
    return end;
}

} // namespace

std::string_view format_http_date(std::chrono::sys_seconds t,
                                  std::array<char, http_date_size>& out) noexcept {
    using namespace std::chrono;
    const sys_days day = floor<days>(t);
    const year_month_day date(day);
    const hh_mm_ss time(t - day);
    constexpr std::string_view layout = "Ddd, DD Mmm YYYY HH:MM:SS GMT";
    static_assert(layout.size() == http_date_size);
    layout.copy(out.data(), out.size());
    day_names[weekday(day).c_encoding()].copy(out.data(), 3);
    put_digits(out.data() + 7, static_cast<unsigned>(date.day()), 2);
    month_names[static_cast<unsigned>(date.month()) - 1].copy(out.data() + 8, 3);
    put_digits(out.data() + 16, static_cast<unsigned>(static_cast<int>(date.year())), 4);
    put_digits(out.data() + 19, static_cast<unsigned>(time.hours().count()), 2);
    put_digits(out.data() + 22, static_cast<unsigned>(time.minutes().count()), 2);
    put_digits(out.data() + 25, static_cast<unsigned>(time.seconds().count()), 2);
    return {out.data(), out.size()};
}

std::string_view http_date() {
    thread_local std::chrono::sys_seconds formatted_at{};
    thread_local std::array<char, http_date_size> text{};
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    if (now != formatted_at || text[0] == '\0') {
        format_http_date(now, text);
        formatted_at = now;
    }
    return {text.data(), text.size()};
}

} // namespace httpy::detail
