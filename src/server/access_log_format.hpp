#pragma once

#include "server/exchange_record.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace httpy::detail {

/// One value an access-log line can show, named in a template as `{name}` with the enumerator's
/// name (`literal` stands for template text and has no placeholder).
enum class access_log_field : std::uint8_t {
    literal,
    client,
    client_port,
    method,
    target,
    version,
    status,
    request_bytes,
    response_bytes,
    response_bytes_clf,
    duration,
    duration_ms,
    duration_us,
    route,
    request_id,
    referer,
    user_agent,
    time,
    time_iso,
};

/// A parsed `--access-log-format` value, and the formatter of one access-log line per
/// `exchange_record`. The value is parsed once, into pieces of template text and fields, so
/// formatting a line is a loop with no parsing.
///
/// The value is `common`, `combined`, `json` or a TEMPLATE. A template is text with
/// placeholders `{name}`; `{{` and `}}` stand for a literal `{` and `}`. The placeholders:
///
/// | placeholder | text |
/// | --- | --- |
/// | `{client}` | the client's address (`203.0.113.7`, `2001:db8::1`) |
/// | `{client_port}` | the client's port; `-` when unknown (a proxy named only an address) |
/// | `{method}` | the request method as sent |
/// | `{target}` | the request target as sent, query included |
/// | `{version}` | the request line's HTTP version: `1.1` or `1.0` |
/// | `{status}` | the status sent |
/// | `{request_bytes}` | the request body's bytes received, in decimal |
/// | `{response_bytes}` | the response body's bytes sent, in decimal (0 for a HEAD answer) |
/// | `{response_bytes_clf}` | the same, but `-` for 0 (Apache's `%b`) |
/// | `{duration}` | from the request's first byte to the response's last, in seconds with 6 |
/// | | decimals: `0.001234` |
/// | `{duration_ms}` | the same in milliseconds with 3 decimals: `1.234` |
/// | `{duration_us}` | the same in whole microseconds: `1234` |
/// | `{route}` | the matched route pattern (`/users/:id`; `*` for an app routing by itself) |
/// | `{request_id}` | the request's `X-Request-Id` |
/// | `{referer}` | the request's `Referer` |
/// | `{user_agent}` | the request's `User-Agent` |
/// | `{time}` | when the request's first byte came, in UTC, as Apache's `%t` without its |
/// | | brackets: `10/Oct/2000:13:55:36 +0000` |
/// | `{time_iso}` | the same in RFC 3339 with milliseconds: `2000-10-10T13:55:36.123Z` |
///
/// Durations are rounded to the nearest microsecond. A text value that is empty (no route, no
/// such header, a request refused before its request line was read) shows as `-`.
///
/// Text values never forge or split a line: in every value taken from the request or the app
/// (client, method, target, route, request_id, referer, user_agent) the bytes `"` and `\`,
/// control characters (below 0x20, 0x7F) and every byte from 0x80 up are written as nginx
/// does, `\xHH` with upper-case hex digits (`"` is `\x22`, a newline `\x0A`, `é` in UTF-8
/// `\xC3\xA9`). Template text is written as it is.
///
/// The named formats are these templates (the example line's record: 2326 body bytes sent in
/// 1.234 ms, no `Referer`, no `X-Request-Id`, `User-Agent: curl/8.0`):
///
/// - `common`, Apache's Common Log Format and the duration:
///   `{client} - - [{time}] "{method} {target} HTTP/{version}" {status} {response_bytes_clf}
///   {duration}`, e.g.
///   `203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 2326 0.001234`
/// - `combined`, Apache's Combined Log Format, the duration and the request id:
///   `{client} - - [{time}] "{method} {target} HTTP/{version}" {status} {response_bytes_clf}
///   "{referer}" "{user_agent}" {duration} {request_id}`, e.g.
///   `203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 2326 "-"
///   "curl/8.0" 0.001234 -`
/// - `json`, one JSON object per line, with no spaces, its members always in this order:
///   `{"time":"2000-10-10T13:55:36.123Z","client":"203.0.113.7","client_port":51234,
///   "method":"GET","target":"/a?b","version":"1.1","status":200,"request_bytes":0,
///   "response_bytes":2326,"duration_s":0.001234,"route":"/a","request_id":null,
///   "referer":null,"user_agent":"curl/8.0"}`.
///   Numbers are JSON numbers (`duration_s` in seconds with 6 decimals), and `client_port` is
///   `null` when unknown. Text values are JSON strings, `null` when empty; they are escaped
///   per RFC 8259 (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other control characters and
///   0x7F as `\u00XX`), valid UTF-8 is kept as it is, and each byte that is not part of a
///   valid UTF-8 sequence is written as `\u00XX` of its value (the byte 0xFF becomes `\u00ff`,
///   as if it were Latin-1), so every line is valid UTF-8 and valid JSON.
///
/// Every line ends with `\n`.
class access_log_format {
public:
    /// Parses `spec`, the `--access-log-format` value.
    /// Throws: `httpy::config_error` naming the value and the offending piece for an unknown
    /// placeholder, an unclosed `{`, a lone `}`, or a value that is neither a named format nor
    /// has any placeholder (a misspelt `comon` would otherwise log that word on every line).
    explicit access_log_format(std::string_view spec);

    /// Appends the line for `r`, `\n` included, to `out`; allocates nothing but `out`'s growth.
    /// Requires: any thread; calls on one format may run at once.
    void append(const exchange_record& r, std::string& out) const;

private:
    /// Appends the pieces of the template `spec` to `pieces_`.
    /// Throws: `httpy::config_error` as the constructor does.
    void parse(std::string_view spec);

    /// A run of template text (`field` is `literal`) or one field.
    struct piece {
        access_log_field field = access_log_field::literal;
        std::string text;
    };

    /// Whether fields are written as JSON values (the `json` format) rather than as text.
    bool json_ = false;
    std::vector<piece> pieces_;
};

} // namespace httpy::detail
