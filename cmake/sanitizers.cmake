# Sanitizer trees for `tools/dev test --sanitize` (clang only):
#   -DTALLY_SANITIZE=address  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer; every
#                             UBSan finding aborts (non-recoverable), so it fails the test
#   -DTALLY_SANITIZE=thread   ThreadSanitizer
# Only our code is instrumented: Debian's gRPC, protobuf and Abseil are not (see
# tools/sanitizers/README.md for what that means and how it is handled).
set(TALLY_SANITIZE "" CACHE STRING "Sanitizer tree: empty, address or thread")
set_property(CACHE TALLY_SANITIZE PROPERTY STRINGS "" address thread)

if(TALLY_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TALLY_SANITIZE needs clang: configure with CC=clang CXX=clang++")
  endif()
  # Stack traces need frame pointers and line tables; -O1 keeps the tests reasonably fast.
  add_compile_options(-O1 -gline-tables-only -fno-omit-frame-pointer)
  if(TALLY_SANITIZE STREQUAL "address")
    set(tally_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all)
  elseif(TALLY_SANITIZE STREQUAL "thread")
    set(tally_sanitize_flags -fsanitize=thread)
  else()
    message(FATAL_ERROR "TALLY_SANITIZE must be address or thread, not ${TALLY_SANITIZE}")
  endif()
  add_compile_options(${tally_sanitize_flags})
  add_link_options(${tally_sanitize_flags})
  if(TALLY_SANITIZE STREQUAL "thread")
    # Makes Debian's uninstrumented absl::Mutex/CondVar/Notification visible to TSan; tally_test
    # links it into every test binary of this tree (see the file for why and how).
    add_library(tally_tsan_absl_sync OBJECT
      ${CMAKE_CURRENT_LIST_DIR}/../tools/sanitizers/tsan_absl_sync.cc)
    target_link_libraries(tally_tsan_absl_sync PUBLIC absl::synchronization absl::time)
  endif()
  # List the gtest cases when ctest runs, not at build time: the listing run is sanitized too,
  # and only `tools/dev test --sanitize` exports the options and suppressions it needs.
  set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)
endif()

# `concurrency_tests` builds every test binary labelled `concurrency` (tally_test), which is all
# the ThreadSanitizer tree needs; created once every directory has registered its tests.
function(tally_concurrency_tests_target)
  get_property(tests GLOBAL PROPERTY TALLY_CONCURRENCY_TESTS)
  add_custom_target(concurrency_tests)
  if(tests)
    add_dependencies(concurrency_tests ${tests})
  endif()
endfunction()
cmake_language(DEFER CALL tally_concurrency_tests_target)
