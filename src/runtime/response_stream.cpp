#include "runtime/response_stream.hpp"

#include <pybind11/pybind11.h>

#include "marshal/conversion_error.hpp"
#include "marshal/response_from_python.hpp"
#include "marshal/wsgi_response.hpp"
#include "runtime/python_error.hpp"
#include "runtime/wsgi_support.hpp"

#include <spdlog/spdlog.h>

namespace py = pybind11;

namespace httpy::detail {

namespace {

// Takes the stream out of the pool and closes its iterable. Requires: GIL held.
void close_stream(executor::state& pool, std::uint64_t id) noexcept {
    auto it = pool.streams.find(id);
    if (it == pool.streams.end())
        return;
    open_stream s = std::move(it->second);
    pool.streams.erase(it);
    close_iterable(s.iterable, s.description);
    s.closed->store(true);
}

struct stream_info {
    std::weak_ptr<executor::state> pool;
    std::uint64_t id = 0;
    chunk_kind kind = chunk_kind::wsgi;
    std::size_t max_chunk_bytes = 0;
    std::string description;
    std::shared_ptr<std::atomic<bool>> closed;
};

// The next non-empty chunk; an empty response at the end.
class chunk_call final : public python_call {
public:
    chunk_call(std::shared_ptr<const stream_info> info, executor::state& pool,
               call_completion done)
        : python_call(std::move(done)), info_(std::move(info)), pool_(pool) {}

    run_result run() override {
        auto it = pool_.streams.find(info_->id);
        if (it == pool_.streams.end())
            return response{};
        open_stream& s = it->second; // references into an unordered_map survive rehashing
        // An async iterator's next chunk is a coroutine on the event loop, which holds the
        // iterator while it runs: the stream may be closed (dropped) meanwhile.
        if (info_->kind == chunk_kind::asgi)
            return awaitable_result{s.iterator.attr("next_chunk")()};
        if (PyAIter_Check(s.iterator.ptr()) != 0)
            return awaitable_result{pool_.runner.attr("next_chunk")(s.iterator)};
        s.busy = true;
        response r;
        try {
            pull(s, r.body);
        } catch (...) {
            s.busy = false;
            close_stream(pool_, info_->id);
            throw;
        }
        s.busy = false;
        if (s.close_requested)
            close_stream(pool_, info_->id);
        return r;
    }

    // What the event loop's next_chunk gave: an item of an async iterator, None at its end.
    response resume(py::handle item) override {
        response r;
        if (item.is_none()) {
            close_stream(pool_, info_->id);
            return r;
        }
        r.body = marshal::body_from_python(item, "the streamed body's async iterator",
                                           info_->max_chunk_bytes);
        return r;
    }

    std::string describe() const override { return info_->description; }

private:
    void pull(open_stream& s, std::string& out) {
        std::size_t total = 0;
        const std::size_t max = info_->max_chunk_bytes;
        for (;;) {
            PyObject* item = PyIter_Next(s.iterator.ptr());
            if (item == nullptr) {
                if (PyErr_Occurred() != nullptr)
                    throw py::error_already_set();
                if (info_->kind == chunk_kind::wsgi)
                    take_written(s.start_response, out, total, max);
                s.close_requested = true; // the end: closed as soon as the call is done
                return;
            }
            const auto chunk = py::reinterpret_steal<py::object>(item);
            if (info_->kind == chunk_kind::wsgi) {
                take_written(s.start_response, out, total, max);
                marshal::append_wsgi_chunk(chunk, out, total, max);
            } else {
                out += marshal::body_from_python(chunk, "the streamed body's iterator", max);
            }
            if (!out.empty())
                return;
        }
    }

    std::shared_ptr<const stream_info> info_;
    executor::state& pool_;
};

// Closes the stream unless a chunk call is inside it (that call then closes it when it is done).
class close_call final : public python_call {
public:
    close_call(std::shared_ptr<const stream_info> info, executor::state& pool)
        : python_call(call_completion([](call_result) {})), info_(std::move(info)), pool_(pool) {}

    run_result run() override {
        auto it = pool_.streams.find(info_->id);
        if (it != pool_.streams.end()) {
            if (it->second.busy)
                it->second.close_requested = true;
            else
                close_stream(pool_, info_->id);
        }
        return response{};
    }

    response resume(py::handle) override { return {}; }

    std::string describe() const override { return info_->description + " (closing)"; }

private:
    std::shared_ptr<const stream_info> info_;
    executor::state& pool_;
};

class response_stream final : public body_stream {
public:
    explicit response_stream(std::shared_ptr<const stream_info> info) : info_(std::move(info)) {}

    // Dropped before its end: its iterable is closed on the pool (or at the pool's shutdown).
    ~response_stream() override {
        if (info_->closed->load())
            return;
        if (auto pool = info_->pool.lock())
            pool->submit(std::make_shared<close_call>(info_, *pool));
    }

protected:
    void next(chunk_completion done) override {
        auto pool = info_->pool.lock();
        if (!pool) { // cannot happen while the app that made the stream exists
            response end;
            std::move(done)(call_result{call_error::stopped, std::move(end)});
            return;
        }
        pool->submit(std::make_shared<chunk_call>(info_, *pool, std::move(done)));
    }

private:
    std::shared_ptr<const stream_info> info_;
};

} // namespace

void close_iterable(py::handle iterable, const std::string& description) noexcept {
    try {
        if (!py::hasattr(iterable, "close"))
            return;
        iterable.attr("close")();
    } catch (py::error_already_set& e) {
        spdlog::error("{}: close() of the response iterable raised:\n{}", description,
                      format_traceback(e));
    } catch (const std::exception& e) {
        spdlog::error("{}: close() of the response iterable failed: {}", description, e.what());
    }
}

void close_all_streams(executor::state& pool) noexcept {
    while (!pool.streams.empty())
        close_stream(pool, pool.streams.begin()->first);
}

std::shared_ptr<body_stream> open_response_stream(executor::state& pool, open_stream stream,
                                                  chunk_kind kind, std::size_t max_chunk_bytes) {
    auto info = std::make_shared<stream_info>();
    info->pool = pool.weak_from_this();
    info->id = pool.next_stream_id++;
    info->kind = kind;
    info->max_chunk_bytes = max_chunk_bytes;
    info->description = stream.description;
    info->closed = std::make_shared<std::atomic<bool>>(false);
    stream.closed = info->closed;
    pool.streams.emplace(info->id, std::move(stream));
    return std::make_shared<response_stream>(std::move(info));
}

} // namespace httpy::detail
