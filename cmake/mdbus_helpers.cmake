# Warnings every mdbus target gets, PRIVATE so they never leak to users of the libraries.
function(mdbus_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wnull-dereference)
endfunction()

# mdbus_add_test(<name> <source>... [LIBS <lib>...]): the one way a test is declared.
# Builds an executable linked with doctest and registers every TEST_CASE with CTest.
function(mdbus_add_test name)
  cmake_parse_arguments(ARG "" "" "LIBS;PROPERTIES" ${ARGN})
  # CTest's test list is a CMake list: a ';' in a TEST_CASE name splits it into entries that
  # run nothing and pass. Refuse such names instead of silently not running the test.
  foreach(src ${ARG_UNPARSED_ARGUMENTS})
    file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${src} text)
    string(REGEX MATCH "TEST_CASE\\(\"[^\"]*;[^\"]*\"" bad "${text}")
    if(bad)
      message(FATAL_ERROR "${CMAKE_CURRENT_SOURCE_DIR}/${src}: a ';' in a TEST_CASE name splits it in CTest (it would run nothing): ${bad}")
    endif()
  endforeach()
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE doctest::doctest mdbus::test_main ${ARG_LIBS})
  mdbus_warnings(${name})
  doctest_discover_tests(${name} PROPERTIES TIMEOUT 300 ${ARG_PROPERTIES})
endfunction()

# mdbus_test_program(<out var> <program> <debian package> <who needs it>): the path of a
# program a test runs (promtool, chromium, ...) in <out var>, or "" with a configure warning: the
# test then fails and says what to install; it never skips.
function(mdbus_test_program out program package who)
  find_program(MDBUS_PROGRAM_${program} ${program} PATHS /usr/sbin /usr/local/sbin)
  if(NOT MDBUS_PROGRAM_${program})
    message(WARNING "${program} not found: ${who} will fail until the Debian package ${package} is installed")
    set(${out} "" PARENT_SCOPE)
  else()
    set(${out} "${MDBUS_PROGRAM_${program}}" PARENT_SCOPE)
  endif()
endfunction()
