# Install rules and the package export, so `find_package(httpy)` gives `httpy::httpy`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The libraries an embedder links, and the public headers: include/httpy/ and nothing else.
install(TARGETS httpy httpy_core httpy_marshal httpy_runtime httpy_server
        EXPORT httpy-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS httpy_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/httpy DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/httpy/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/httpy)
install(EXPORT httpy-targets NAMESPACE httpy:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)

configure_package_config_file(cmake/httpy-config.cmake.in
    ${PROJECT_BINARY_DIR}/httpy-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/httpy-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/httpy-config.cmake ${PROJECT_BINARY_DIR}/httpy-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)
