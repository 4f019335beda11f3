# Warnings and sanitizers, private to each target so consumers do not inherit them.
function(httpy_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                             -Wno-sign-conversion
                                             -Wno-missing-field-initializers)
    if(HTTPY_SANITIZE)
        target_compile_options(${target} PRIVATE -fsanitize=${HTTPY_SANITIZE}
                                                 -fno-omit-frame-pointer)
        target_link_options(${target} PRIVATE -fsanitize=${HTTPY_SANITIZE})
    endif()
endfunction()
