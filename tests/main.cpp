// The test runner: owns the process's interpreter for every test case.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "httpy/interpreter.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    int result = 0;
    {
        httpy::interpreter python;
        result = doctest::Context(argc, argv).run();
    }
    // A case that left a handler thread running: Python stays as it is (interpreter.hpp).
    if (httpy::interpreter::left_unfinalised()) {
        spdlog::default_logger()->flush();
        std::fflush(nullptr);
        std::_Exit(result);
    }
    return result;
}
