# Installs httpy from BUILD_DIR into a scratch prefix, checks that include/ holds httpy/ and
# nothing else, builds every C++ example against it with find_package(httpy) (the consumer
# project) and runs the call example on the example worker.
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT code EQUAL 0)
        message(FATAL_ERROR "failed (${code}): ${ARGN}\n${out}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# include/ holds httpy/ only, and no installed header names Python or pybind11.
file(GLOB top_level RELATIVE ${prefix}/include ${prefix}/include/*)
if(NOT top_level STREQUAL "httpy")
    message(FATAL_ERROR "include/ holds ${top_level}; expected httpy only")
endif()
file(GLOB_RECURSE headers ${prefix}/include/*)
foreach(header IN LISTS headers)
    if(NOT header MATCHES "\\.hpp$")
        message(FATAL_ERROR "installed a file that is not a header: ${header}")
    endif()
    file(STRINGS ${header} python_lines REGEX "pybind11|Python\\.h")
    if(python_lines)
        message(FATAL_ERROR "${header} mentions Python: ${python_lines}")
    endif()
endforeach()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${consumer_build} -G Ninja -DEXAMPLES_DIR=${EXAMPLES_DIR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${consumer_build})
run(${consumer_build}/call ${WORKER})
if(NOT last_output MATCHES "^200 request #1")
    message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
message(STATUS "consumer printed: ${last_output}")
