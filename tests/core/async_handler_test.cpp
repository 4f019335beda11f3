#include "httpy/async_handler.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <thread>

namespace net = boost::asio;

namespace {

// An asynchronous handler that answers on `ioc` (never inside the call), echoing the request's
// path and body, and notes whether the completion came with a connected cancellation slot.
struct echo_later {
    net::io_context& ioc;
    bool* saw_slot = nullptr;

    void operator()(httpy::request req, httpy::call_completion done) const {
        if (saw_slot)
            *saw_slot = net::get_associated_cancellation_slot(done).is_connected();
        net::post(ioc, [req = std::move(req), done = std::move(done)]() mutable {
            httpy::response r{200, req.body, {}};
            r.headers.add("X-Path", req.path);
            std::move(done)(httpy::call_result{{}, std::move(r)});
        });
    }
};

} // namespace

TEST_CASE("async_call completes a callback with the handler's call_result") {
    net::io_context ioc;
    const httpy::async_handler handler = echo_later{ioc};
    std::optional<httpy::call_result> got;
    httpy::async_call(handler, httpy::request{"POST", "/cb", {}, {}, {}, "payload"},
                      [&](httpy::call_result r) { got = std::move(r); });
    CHECK_FALSE(got.has_value()); // not inside the call
    ioc.run();
    REQUIRE(got.has_value());
    CHECK_FALSE(got->error);
    CHECK(got->resp.body == "payload");
    CHECK(got->resp.headers.find("X-Path")->front() == "/cb");
}

TEST_CASE("async_call with use_awaitable yields the call_result") {
    net::io_context ioc;
    const httpy::async_handler handler = echo_later{ioc};
    httpy::call_result got;
    net::co_spawn(
        ioc,
        [&]() -> net::awaitable<void> {
            got = co_await httpy::async_call(handler, httpy::request{"GET", "/aw", {}, {}, {}, "x"},
                                             net::use_awaitable);
        },
        net::detached);
    ioc.run();
    CHECK(got.resp.body == "x");
    CHECK(got.resp.headers.find("X-Path")->front() == "/aw");
}

TEST_CASE("async_call with use_future gives a future call_result") {
    net::io_context ioc;
    const httpy::async_handler handler = echo_later{ioc};
    auto future = httpy::async_call(handler, httpy::request{"GET", "/f"}, net::use_future);
    std::thread runner([&] { ioc.run(); });
    const httpy::call_result r = future.get();
    runner.join();
    CHECK(r.resp.headers.find("X-Path")->front() == "/f");
}

TEST_CASE("async_call hands the completion's cancellation slot to the handler") {
    net::io_context ioc;
    bool saw_slot = false;
    const httpy::async_handler handler = echo_later{ioc, &saw_slot};
    net::cancellation_signal cancel;
    httpy::async_call(handler, httpy::request{"GET", "/c"},
                      net::bind_cancellation_slot(cancel.slot(), [](httpy::call_result) {}));
    CHECK(saw_slot);
    bool without = true;
    const httpy::async_handler plain = echo_later{ioc, &without};
    httpy::async_call(plain, httpy::request{"GET", "/c"}, [](httpy::call_result) {});
    CHECK_FALSE(without);
    ioc.run();
}
