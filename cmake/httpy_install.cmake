# Install rules and the package export, so `find_package(httpy)` gives `httpy::httpy`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS httpy httpy_core httpy_marshal httpy_runtime httpy_server httpy_cli
        EXPORT httpy-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY httpy marshal server
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT httpy-targets NAMESPACE httpy:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)

configure_package_config_file(cmake/httpy-config.cmake.in
    ${PROJECT_BINARY_DIR}/httpy-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/httpy-config-version.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/httpy-config.cmake ${PROJECT_BINARY_DIR}/httpy-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/httpy)
