# What `cmake --install` puts where (GNUInstallDirs), the package a strategy finds with
# find_package(mdbus) or pkg-config, and the Debian package CPack builds from the same install.
#
#   bin/                       mdsupervisor mdfeed mdmerge mdctl shmcat mdrecord mdreplay mdbridge exsim
#   include/mdbus/             the public headers: consumer API, records, rings, venues (no
#                              libwebsockets, simdjson or adapter header among them)
#   lib/                       libmdbus_consumer.a libmdbus_bus.a, cmake/mdbus/, pkgconfig/mdbus.pc
#                              (lib/<multiarch>/ when the build's prefix is /usr: GNUInstallDirs)
#   lib/systemd/system/        mdsupervisor@.service (config/systemd/)
#   lib/sysusers.d/mdbus.conf  the service user
#   share/mdbus/config/        live.json (the real venues: copy to /etc/mdbus/live.json), sim.json
#                              (a local exsim; its ca_file names the test CA of a build tree)
#   share/doc/mdbus/           README.md ARCHITECTURE.md, examples/strategy-template
include(CMakePackageConfigHelpers)

set_target_properties(mdbus_bus PROPERTIES EXPORT_NAME bus)
set_target_properties(mdbus_consumer PROPERTIES EXPORT_NAME consumer)
install(TARGETS mdbus_bus mdbus_consumer EXPORT mdbusTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY bus/include/mdbus consumers/include/mdbus DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT mdbusTargets NAMESPACE mdbus:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mdbus COMPONENT dev)
configure_package_config_file(cmake/mdbusConfig.cmake.in ${PROJECT_BINARY_DIR}/mdbusConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mdbus)
# 0.x: a minor version may change the record layout, so only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mdbusConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mdbusConfig.cmake ${PROJECT_BINARY_DIR}/mdbusConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mdbus COMPONENT dev)
# Relocatable: the prefix is found from the .pc file's own place (a DESTDIR staging root, or the
# /usr of the Debian package, whatever CMAKE_INSTALL_PREFIX the build was configured with).
file(RELATIVE_PATH MDBUS_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(cmake/mdbus.pc.in ${PROJECT_BINARY_DIR}/mdbus.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mdbus.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

install(TARGETS mdsupervisor mdfeed mdmerge mdctl shmcat mdrecord mdreplay mdbridge exsim
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The unit names the binaries by absolute path: written at install time, so that it names the
# prefix of this install (CPack installs with CMAKE_INSTALL_PREFIX=/usr whatever the build's).
# systemd reads <prefix>/lib/systemd/system for /usr and /usr/local alike.
install(CODE "
  set(MDBUS_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(MDBUS_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/config/systemd/mdsupervisor@.service.in\"
                 \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/mdsupervisor@.service\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/mdsupervisor@.service\")
" COMPONENT runtime)
install(FILES config/systemd/mdbus.sysusers DESTINATION lib/sysusers.d RENAME mdbus.conf COMPONENT runtime)
install(FILES config/sim.json config/live.json config/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/mdbus/config COMPONENT runtime)
install(FILES README.md ARCHITECTURE.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(FILES examples/strategy-template/CMakeLists.txt examples/strategy-template/main.cpp
              examples/strategy-template/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/strategy-template COMPONENT dev)

# The Debian package: `cpack -G DEB` in the build directory (tests/install builds it). Only
# when mdbus is the top-level project: a project that adds mdbus as a subdirectory packages itself.
if(NOT PROJECT_IS_TOP_LEVEL)
  return()
endif()
set(CPACK_PACKAGE_NAME mdbus)
set(CPACK_PACKAGE_VENDOR "mdbus")
set(CPACK_PACKAGE_CONTACT "mdbus maintainers <mdbus@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "shared-memory market-data bus for crypto venues (Binance, OKX)")
set(CPACK_PACKAGE_DESCRIPTION "Feeders per venue connection, a deduplicating merger and a supervisor with
make-before-break rotation write every trade and book update into a shared-memory ring that
strategy processes map. Includes the consumer library and headers (find_package(mdbus)),
the systemd unit mdsupervisor@.service and a local venue simulator (exsim).")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)  # the package's prefix, whatever the build's
set(CPACK_STRIP_FILES ON)  # the build's debug info stays in the build tree
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mdbus_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)   # Depends: from dpkg-shlibdeps over the binaries
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")  # useradd, for the service user (postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/cmake/deb/postinst;${PROJECT_SOURCE_DIR}/cmake/deb/prerm;${PROJECT_SOURCE_DIR}/cmake/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
