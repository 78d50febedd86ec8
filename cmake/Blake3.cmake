# BLAKE3 (the page tree's hash, docs/format.md): the BLAKE3 team's C
# implementation. Debian 12 packages it only inside the Rust crate's sources
# (librust-blake3-dev, which scripts/install-deps.sh installs; no Rust
# toolchain is involved): its c/ directory is the upstream C library, built
# here as the static library crust_blake3 with the x86-64 assembly kernels
# (SSE2, SSE4.1, AVX2, AVX-512; chosen at run time by CPU) or, elsewhere, the
# portable code. CRUST_BLAKE3_DIR overrides where the sources are found.
file(GLOB _crust_blake3_candidates /usr/share/cargo/registry/blake3-*/c/blake3.h)
list(SORT _crust_blake3_candidates COMPARE NATURAL ORDER DESCENDING)
set(_crust_blake3_default "")
if(_crust_blake3_candidates)
  list(GET _crust_blake3_candidates 0 _crust_blake3_first)
  get_filename_component(_crust_blake3_default ${_crust_blake3_first} DIRECTORY)
endif()
set(CRUST_BLAKE3_DIR "${_crust_blake3_default}" CACHE PATH "Directory of the BLAKE3 C sources (blake3.h, blake3.c)")
if(NOT EXISTS "${CRUST_BLAKE3_DIR}/blake3.h" OR NOT EXISTS "${CRUST_BLAKE3_DIR}/blake3_impl.h")
  message(FATAL_ERROR "BLAKE3 C sources not found (looked for /usr/share/cargo/registry/blake3-*/c/blake3.h). "
                      "Install them with: apt-get install librust-blake3-dev (or run scripts/install-deps.sh), "
                      "or set -DCRUST_BLAKE3_DIR=<dir holding blake3.h>.")
endif()
message(STATUS "BLAKE3 C sources: ${CRUST_BLAKE3_DIR}")

set(_b ${CRUST_BLAKE3_DIR})
set(_crust_blake3_sources ${_b}/blake3.c ${_b}/blake3_dispatch.c ${_b}/blake3_portable.c)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND NOT WIN32)
  enable_language(ASM)
  list(APPEND _crust_blake3_sources ${_b}/blake3_sse2_x86-64_unix.S ${_b}/blake3_sse41_x86-64_unix.S
                                    ${_b}/blake3_avx2_x86-64_unix.S ${_b}/blake3_avx512_x86-64_unix.S)
  set(_crust_blake3_defs "")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  list(APPEND _crust_blake3_sources ${_b}/blake3_neon.c)
  set(_crust_blake3_defs BLAKE3_USE_NEON=1)
else()
  set(_crust_blake3_defs BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
endif()
add_library(crust_blake3 STATIC ${_crust_blake3_sources})
target_compile_definitions(crust_blake3 PUBLIC ${_crust_blake3_defs})
# The upstream sources are not ours to warn about.
target_compile_options(crust_blake3 PRIVATE -w)
set_target_properties(crust_blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON)
# blake3_impl.h (internal: blake3_hash_many, flags) is used by src/util/blake3.cc only.
target_include_directories(crust_blake3 SYSTEM PUBLIC ${_b})
