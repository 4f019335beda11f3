#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace httpy::fuzz {

/// A synchronous read stream (Beast's SyncReadStream) that hands out a fixed byte string in
/// pieces, as a socket hands out what has arrived so far, then reports the end of the stream.
/// `pattern` picks the piece sizes: its low three bits the largest piece (0: everything at
/// once), the other bits seed the sizes below it. So a fuzz input also decides where the
/// parser has to stop and resume.
class piecewise_stream {
public:
    piecewise_stream(std::string_view data, std::uint8_t pattern) noexcept
        : data_(data), largest_piece_(largest_pieces[pattern & 7u]), state_(pattern) {}

    /// True when `pattern` splits the bytes (rather than handing them out at once).
    static constexpr bool in_pieces(std::uint8_t pattern) noexcept {
        return largest_pieces[pattern & 7u] != whole;
    }

    /// True once every byte has been handed out.
    bool exhausted() const noexcept { return data_.empty(); }

    /// Copies the next piece into `buffers`; `eof` once nothing is left.
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
        ec = {};
        if (data_.empty()) {
            ec = boost::asio::error::eof;
            return 0;
        }
        const std::size_t piece = std::min(next_piece(), data_.size());
        const std::size_t n =
            boost::asio::buffer_copy(buffers, boost::asio::buffer(data_.data(), piece));
        data_.remove_prefix(n);
        return n;
    }

    /// As above. Throws: boost::system::system_error at the end of the stream.
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers) {
        boost::system::error_code ec;
        const std::size_t n = read_some(buffers, ec);
        if (ec)
            throw boost::system::system_error(ec);
        return n;
    }

private:
    static constexpr std::size_t whole = static_cast<std::size_t>(-1);
    static constexpr std::array<std::size_t, 8> largest_pieces{whole, 1, 2, 3, 8, 17, 64, 1000};

    std::size_t next_piece() noexcept {
        if (largest_piece_ == whole)
            return whole;
        state_ = state_ * 1103515245u + 12345u; // any cheap deterministic sequence will do
        return 1 + (state_ >> 16) % largest_piece_;
    }

    std::string_view data_;
    std::size_t largest_piece_;
    std::uint32_t state_;
};

} // namespace httpy::fuzz
