// The test runner: owns the process's interpreter for every test case.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "httpy/interpreter.hpp"

int main(int argc, char** argv) {
    httpy::interpreter python;
    return doctest::Context(argc, argv).run();
}
