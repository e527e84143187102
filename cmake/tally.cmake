# Helpers shared by every CMakeLists.txt of the project.

# tally_proto_library(<target> PROTOS <files...> [DEPS <proto targets...>] [PROTO_ROOT <dir>])
# One static library per proto package: messages, gRPC stubs and gMock stubs.
# Files are generated under ${CMAKE_BINARY_DIR}/gen by their path below the proto root (proto/
# unless PROTO_ROOT names another, e.g. a Debian package's), so they are included as
# "tally/policy/v1/policy.pb.h", "tally/policy/v1/policy.grpc.pb.h" and
# "tally/policy/v1/policy_mock.grpc.pb.h". protoc is run directly rather than through
# protobuf_generate(): CMake 3.25's FindProtobuf has no PLUGIN_OPTIONS, so it cannot pass
# generate_mock_code=true to the gRPC plugin.
function(tally_proto_library target)
  cmake_parse_arguments(ARG "" "PROTO_ROOT" "PROTOS;DEPS" ${ARGN})
  set(proto_root ${CMAKE_SOURCE_DIR}/proto)
  if(ARG_PROTO_ROOT)
    set(proto_root ${ARG_PROTO_ROOT})
  endif()
  set(out ${CMAKE_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out})
  # Well-known types (google/protobuf/timestamp.proto, ...) come with libprotobuf-dev.
  set(wkt_dir ${Protobuf_INCLUDE_DIR})
  if(NOT wkt_dir)
    set(wkt_dir /usr/include)
  endif()
  set(generated)
  foreach(proto IN LISTS ARG_PROTOS)
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${proto_root} ${abs})
    if(rel MATCHES "^\\.\\.")
      message(FATAL_ERROR "tally_proto_library(${target}): ${proto} is not below ${proto_root}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    # protoc's --dependency_out lists the outputs sorted; Ninja wants the first one it names
    # to be the rule's first output, so keep this order.
    set(files
      ${out}/${stem}.grpc.pb.cc ${out}/${stem}.grpc.pb.h
      ${out}/${stem}.pb.cc ${out}/${stem}.pb.h ${out}/${stem}_mock.grpc.pb.h)
    add_custom_command(
      OUTPUT ${files}
      COMMAND protobuf::protoc
        --proto_path=${proto_root}
        --proto_path=${wkt_dir}
        --cpp_out=${out}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
        --grpc_out=generate_mock_code=true:${out}
        --dependency_out=${out}/${stem}.d
        ${abs}
      DEPENDS ${abs} protobuf::protoc gRPC::grpc_cpp_plugin
      DEPFILE ${out}/${stem}.d
      COMMENT "Generating C++ and gRPC code for ${rel}"
      VERBATIM)
    list(APPEND generated ${files})
  endforeach()
  add_library(${target} STATIC ${generated} ${ARG_PROTOS})
  target_include_directories(${target} PUBLIC ${out})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${ARG_DEPS})
  # Generated code is not ours to warn about.
  target_compile_options(${target} PRIVATE -w)
endfunction()

# tally_test(<name> SOURCES <files...> LIBS <targets...> LABELS <labels...> [ONE_PROCESS])
# LABELS (default `unit`) apply to every test of the binary. Binaries whose tests run our code on
# several threads at once add `concurrency`: `tools/dev test --sanitize` runs those under
# ThreadSanitizer. ONE_PROCESS runs the whole binary as one ctest test instead of one process
# per test: for suites whose tests share a fixture that is slow to start (a Redis Cluster of
# their own, common/testing/redis_cluster.h).
function(tally_test name)
  cmake_parse_arguments(ARG "ONE_PROCESS" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test-bin)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  if(TARGET tally_tsan_absl_sync)  # ThreadSanitizer tree only (cmake/sanitizers.cmake)
    target_link_libraries(${name} PRIVATE tally_tsan_absl_sync)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if("concurrency" IN_LIST ARG_LABELS)
    set_property(GLOBAL APPEND PROPERTY TALLY_CONCURRENCY_TESTS ${name})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(ARG_ONE_PROCESS)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
    return()
  endif()
  gtest_discover_tests(${name}
    PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
  # The labels are set once ctest knows the discovered tests (${name}_TESTS): passed through
  # gtest_discover_tests(PROPERTIES), a list of several labels is flattened into bogus
  # property pairs and only the first label survives.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  file(WRITE ${labels_file}
    "foreach(test IN LISTS ${name}_TESTS)\n"
    "  set_tests_properties(\"\${test}\" PROPERTIES LABELS \"${ARG_LABELS}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

# tally_redis_cluster_test(<name> SOURCES <files...> LIBS <targets...> LABELS <labels...>
#                          [TIMEOUT <s>])
# The twin of a Redis suite on a Redis Cluster: the same sources built with
# TALLY_ON_REDIS_CLUSTER=1, so their testing::SuiteRedisOptions(TALLY_ON_REDIS_CLUSTER) answers
# the process's own cluster (common/testing/redis_cluster.h), run as one ctest test so all its
# tests share that cluster. Label `redis_cluster` besides LABELS.
function(tally_redis_cluster_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  tally_test(${name} SOURCES ${ARG_SOURCES} LIBS ${ARG_LIBS} tally_testing_redis_cluster
    LABELS ${ARG_LABELS} redis_cluster TIMEOUT ${ARG_TIMEOUT} ONE_PROCESS)
  target_compile_definitions(${name} PRIVATE TALLY_ON_REDIS_CLUSTER=1)
endfunction()
