# Installing and embedding crust (included by the top-level CMakeLists.txt
# after the layers are defined).
#
#  * include/crust/version.h, generated from project(VERSION).
#  * crust_capi: the C API (include/crust/crust.h, src/capi/), a thin layer
#    over the C++ library.
#  * libcrust.so (SONAME: see CRUST_SOVERSION) and libcrust.a, each built from
#    the objects of every layer, BLAKE3 and the C API: one library, not six.
#    The shared library carries wabt inside it (Debian ships only a static,
#    non-PIC libwabt.a: see src/capi/stdio_shim.c); the static one needs
#    -lwabt -lzstd -lcrypto -lpthread -ldl, which crust.pc and the CMake
#    package (crust::crust_static) list.
#  * install rules: headers, both libraries, the `crust` tool, the CMake
#    package (find_package(crust) -> crust::crust), crust.pc, the Python
#    binding (share/crust/python) and the Rust crate's sources
#    (share/crust/rust).
#  * tests: the C API test (also under AddressSanitizer with leak checking),
#    the Rust and Python bindings' tests, and the out-of-tree examples built
#    against an installed copy (tests/embed/).
include(GNUInstallDirs)

configure_file(${CMAKE_CURRENT_LIST_DIR}/../include/crust/version.h.in
               ${PROJECT_BINARY_DIR}/generated/include/crust/version.h @ONLY)

if(NOT TARGET crust_vm)
  return()  # a partial layer list (CRUST_LAYER_LIST) has no VM to wrap
endif()

add_library(crust_capi STATIC
  ${PROJECT_SOURCE_DIR}/src/capi/capi.cc
  ${PROJECT_SOURCE_DIR}/src/capi/capi_store.cc
  ${PROJECT_SOURCE_DIR}/src/capi/capi_session.cc)
set_target_properties(crust_capi PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(crust_capi PUBLIC ${PROJECT_BINARY_DIR}/generated/include)
target_link_libraries(crust_capi PUBLIC crust_vm)

# Every object of the library, in layer order.
set(_crust_objects)
foreach(t crust_blake3 ${CRUST_LAYERS} crust_capi)
  list(APPEND _crust_objects $<TARGET_OBJECTS:${t}>)
endforeach()
set(_crust_link_deps PkgConfig::ZSTD OpenSSL::Crypto wabt::wabt Threads::Threads ${CMAKE_DL_LIBS})

# SONAME libcrust.so.<major>, or libcrust.so.0.<minor> before 1.0 (where a
# minor release may change the ABI).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(CRUST_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(CRUST_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
add_library(crust_shared SHARED ${_crust_objects} ${PROJECT_SOURCE_DIR}/src/capi/stdio_shim.c)
set_target_properties(crust_shared PROPERTIES OUTPUT_NAME crust
  VERSION ${PROJECT_VERSION} SOVERSION ${CRUST_SOVERSION})
target_link_libraries(crust_shared PRIVATE ${_crust_link_deps})
# wabt's archive is not position-independent: its symbols are kept inside the
# library (--exclude-libs), only crust's own symbols are exported
# (libcrust.map: the template instantiations wabt shares with crust's objects
# become local) and every reference binds locally (-Bsymbolic), so the linker
# accepts wabt's PC-relative relocations. stdio_shim.c gives its references to
# stdin/stdout/stderr local definitions.
set(_crust_map ${PROJECT_SOURCE_DIR}/src/capi/libcrust.map)
target_link_options(crust_shared PRIVATE -Wl,--exclude-libs,libwabt.a -Wl,-Bsymbolic -Wl,--no-undefined
                                         -Wl,--version-script=${_crust_map})
set_target_properties(crust_shared PROPERTIES LINK_DEPENDS ${_crust_map})
target_include_directories(crust_shared INTERFACE ${PROJECT_SOURCE_DIR}/include
                                                  ${PROJECT_BINARY_DIR}/generated/include)
target_compile_features(crust_shared INTERFACE cxx_std_20)

add_library(crust_static STATIC ${_crust_objects})
set_target_properties(crust_static PROPERTIES OUTPUT_NAME crust)
target_link_libraries(crust_static INTERFACE ${_crust_link_deps})
target_include_directories(crust_static INTERFACE ${PROJECT_SOURCE_DIR}/include
                                                  ${PROJECT_BINARY_DIR}/generated/include)
target_compile_features(crust_static INTERFACE cxx_std_20)

# Test-only code (src/testing, *ForTesting hooks) must not be in the product.
if(CRUST_BUILD_TESTS)
  add_test(NAME test_symbols COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/check_test_symbols.sh
           $<TARGET_FILE:crust_static> $<TARGET_FILE:crust_shared>)
  set_tests_properties(test_symbols PROPERTIES TIMEOUT 60 LABELS unit)
endif()

# The installed package's names, for projects that add_subdirectory(crust).
add_library(crust::crust ALIAS crust_shared)
add_library(crust::crust_static ALIAS crust_static)

# --- install -----------------------------------------------------------------
file(GLOB _crust_public_headers ${PROJECT_SOURCE_DIR}/include/crust/*.h)
install(FILES ${_crust_public_headers} ${PROJECT_BINARY_DIR}/generated/include/crust/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/crust)
install(TARGETS crust_shared crust_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS crust_tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(CRUST_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/crust)
# Relative path from the package directory up to the prefix.
file(RELATIVE_PATH CRUST_CONFIG_TO_PREFIX
     /prefix/${CRUST_CMAKE_INSTALL_DIR} /prefix)
configure_file(${CMAKE_CURRENT_LIST_DIR}/crustConfig.cmake.in
               ${PROJECT_BINARY_DIR}/generated/crustConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/generated/crustConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/generated/crustConfig.cmake
              ${PROJECT_BINARY_DIR}/generated/crustConfigVersion.cmake
        DESTINATION ${CRUST_CMAKE_INSTALL_DIR})
# crust.pc: written at install time so that it names the prefix installed to
# (cmake --install --prefix may differ from CMAKE_INSTALL_PREFIX).
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(CRUST_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CRUST_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(CRUST_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_CURRENT_LIST_DIR}/crust.pc.in\"
                 \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/crust.pc\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/crust.pc\")
")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/python/crust
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crust/python
        PATTERN __pycache__ EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/bindings/rust/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crust/rust
        PATTERN target EXCLUDE)

# --- tests -------------------------------------------------------------------
if(NOT CRUST_BUILD_TESTS)
  return()
endif()

set(_crust_contracts_dir ${PROJECT_BINARY_DIR}/contracts)
if(CRUST_CONTRACTS_DIR)
  set(_crust_contracts_dir ${CRUST_CONTRACTS_DIR})
endif()
set(_crust_counter_wasm ${_crust_contracts_dir}/counter.wasm)
set(_crust_test_env
  "CRUST_CONTRACTS_DIR=${_crust_contracts_dir}"
  "CRUST_LIBRARY=$<TARGET_FILE:crust_shared>")

# The C API from C (C99), against the shared library; once more built with
# AddressSanitizer (leak checking on) to catch leaks and bad accesses through
# the C boundary.
add_executable(crust_capi_test ${PROJECT_SOURCE_DIR}/tests/embed/capi_test.c)
set_target_properties(crust_capi_test PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_link_libraries(crust_capi_test PRIVATE crust_shared)
add_test(NAME capi_test COMMAND crust_capi_test ${_crust_contracts_dir})
set_tests_properties(capi_test PROPERTIES TIMEOUT 60 LABELS unit)
if(NOT CRUST_ASAN AND NOT CRUST_TSAN)
  add_executable(crust_capi_test_asan ${PROJECT_SOURCE_DIR}/tests/embed/capi_test.c)
  set_target_properties(crust_capi_test_asan PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  target_compile_options(crust_capi_test_asan PRIVATE -fsanitize=address -fno-omit-frame-pointer -g)
  target_link_options(crust_capi_test_asan PRIVATE -fsanitize=address)
  target_link_libraries(crust_capi_test_asan PRIVATE crust_shared)
  add_test(NAME capi_test_asan COMMAND crust_capi_test_asan ${_crust_contracts_dir})
  # The engine's trap handling owns SIGSEGV/SIGBUS (guard pages): ASan must
  # let it (handle_segv=0); leaks are reported at exit and fail the test.
  set_tests_properties(capi_test_asan PROPERTIES TIMEOUT 60 LABELS unit
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1")
endif()

# The bindings and the out-of-tree examples load or link the library from
# programs that are not sanitized: not in sanitizer builds.
if(CRUST_ASAN OR CRUST_TSAN)
  return()
endif()

# Python binding (ctypes, standard library only), with Debian's python3.
find_program(CRUST_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(CRUST_PYTHON3)
  add_test(NAME python_binding_test
    COMMAND ${CRUST_PYTHON3} -m pytest -q -p no:cacheprovider ${PROJECT_SOURCE_DIR}/bindings/python/tests)
  set_tests_properties(python_binding_test PROPERTIES TIMEOUT 300 LABELS slow
    ENVIRONMENT "${_crust_test_env};PYTHONPATH=${PROJECT_SOURCE_DIR}/bindings/python;PYTHONDONTWRITEBYTECODE=1")
endif()

# Rust binding: Debian's cargo and rustc (scripts/install-deps.sh), offline,
# no crates; build.rs links the library built here (CRUST_LIB_DIR).
find_program(CRUST_CARGO NAMES cargo PATHS /usr/bin NO_DEFAULT_PATH)
find_program(CRUST_RUSTC NAMES rustc PATHS /usr/bin NO_DEFAULT_PATH)
find_program(CRUST_RUSTDOC NAMES rustdoc PATHS /usr/bin NO_DEFAULT_PATH)
if(CRUST_CARGO AND CRUST_RUSTC AND CRUST_RUSTDOC)
  add_test(NAME rust_binding_test
    COMMAND ${CRUST_CARGO} test --offline --quiet
            --manifest-path ${PROJECT_SOURCE_DIR}/bindings/rust/Cargo.toml
            --target-dir ${PROJECT_BINARY_DIR}/rust-target)
  set_tests_properties(rust_binding_test PROPERTIES TIMEOUT 600 LABELS slow
    ENVIRONMENT "${_crust_test_env};RUSTC=${CRUST_RUSTC};RUSTDOC=${CRUST_RUSTDOC};CRUST_LIB_DIR=$<TARGET_FILE_DIR:crust_shared>;LD_LIBRARY_PATH=$<TARGET_FILE_DIR:crust_shared>")
endif()

# Out-of-tree use of an installed copy: install into a temporary prefix, then
# build and run a C program (pkg-config), a C++ program (find_package), the
# Rust crate's example and a Python program against it.
add_test(NAME install_examples_test
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/embed/install_examples.sh
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${_crust_counter_wasm})
set(_crust_example_env)
if(CRUST_CARGO AND CRUST_RUSTC)
  list(APPEND _crust_example_env "CRUST_CARGO=${CRUST_CARGO}" "RUSTC=${CRUST_RUSTC}")
endif()
if(CRUST_PYTHON3)
  list(APPEND _crust_example_env "CRUST_PYTHON3=${CRUST_PYTHON3}")
endif()
set_tests_properties(install_examples_test PROPERTIES TIMEOUT 900 LABELS slow ENVIRONMENT "${_crust_example_env}")
if(TARGET crust_contracts)
  add_dependencies(crust_capi_test crust_contracts)
endif()
