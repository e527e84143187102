# tally_fuzz_target(<name> SOURCES <files...> [LIBS <targets...>] [CORPUS <dir>])
# A libFuzzer target for a request validator (clang, -DTALLY_FUZZ=ON): the executable fuzz_<name>
# and a ctest test of the same name (label `fuzz`) that runs it for TALLY_VALIDATOR_FUZZ_SECONDS
# from the seed corpus in <CORPUS or corpus/<name>>; new inputs go to the build tree, never to the
# repository. SOURCES may name the code under test itself (e.g. ../user_fields.cc), so the fuzz
# tree (-DTALLY_FUZZ_ONLY=ON) needs no service library; it is compiled with coverage feedback and
# the sanitizers like the target. Every target joins the aggregate `fuzz_targets`.
include_guard(GLOBAL)

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "TALLY_FUZZ needs clang: configure with CC=clang CXX=clang++")
endif()

# Validators are small: 10 s each keeps the many targets within CI's budget.
set(TALLY_VALIDATOR_FUZZ_SECONDS 10 CACHE STRING "How long each validator fuzz test runs")

function(tally_fuzz_target name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  set(target fuzz_${name})
  set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_LIBS})
  target_compile_options(${target} PRIVATE ${flags})
  target_link_options(${target} PRIVATE ${flags})
  if(NOT ARG_CORPUS)
    set(ARG_CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
  endif()
  set(work ${CMAKE_CURRENT_BINARY_DIR}/corpus/${name})
  file(MAKE_DIRECTORY ${work})
  add_test(NAME ${target}
    COMMAND ${target} -max_total_time=${TALLY_VALIDATOR_FUZZ_SECONDS} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 ${work} ${ARG_CORPUS})
  set_tests_properties(${target} PROPERTIES LABELS fuzz TIMEOUT 120)
  set_property(GLOBAL APPEND PROPERTY TALLY_VALIDATOR_FUZZ_TARGETS ${target})
endfunction()

# `tools/dev test` builds the aggregate `fuzz_targets`, which other directories may define
# before or after these: join it once every directory is read.
function(tally_join_validator_fuzz_targets)
  get_property(targets GLOBAL PROPERTY TALLY_VALIDATOR_FUZZ_TARGETS)
  if(NOT targets)
    return()
  endif()
  if(TARGET fuzz_targets)
    add_dependencies(fuzz_targets ${targets})
  else()
    add_custom_target(fuzz_targets DEPENDS ${targets})
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL tally_join_validator_fuzz_targets)
