#include "httpy/call_error.hpp"

#include <string>

namespace httpy {

namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "httpy.call"; }

    std::string message(int value) const override {
        switch (static_cast<call_error>(value)) {
        case call_error::handler_failed:
            return "the Python handler failed";
        case call_error::timed_out:
            return "the Python handler timed out";
        case call_error::overloaded:
            return "the Python work queue is full";
        case call_error::stopped:
            return "the Python executor is stopping";
        }
        return "unknown httpy call error";
    }
};

} // namespace

const boost::system::error_category& call_category() noexcept {
    static const category instance;
    return instance;
}

int status_of(call_error e) noexcept {
    switch (e) {
    case call_error::handler_failed:
        return 500;
    case call_error::timed_out:
        return 504;
    case call_error::overloaded:
    case call_error::stopped:
        return 503;
    }
    return 500;
}

} // namespace httpy
