# Warnings and sanitizers, private to each target so consumers do not inherit them (except the
# sanitizer runtimes at link time, which instrumented code cannot do without).
function(httpy_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                             -Wno-sign-conversion
                                             -Wno-missing-field-initializers)
    if(HTTPY_SANITIZE)
        target_compile_options(${target} PRIVATE -fsanitize=${HTTPY_SANITIZE}
                                                 -fno-omit-frame-pointer)
        # Public: whatever links an instrumented static library (a test, an installed package's
        # consumer) needs the sanitizer runtimes too.
        target_link_options(${target} PUBLIC -fsanitize=${HTTPY_SANITIZE})
    endif()
endfunction()
