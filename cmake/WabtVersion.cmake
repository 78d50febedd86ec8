# crust_check_wabt_version(CONFIG_H): reads WABT_VERSION_STRING from a
# <wabt/config.h> and stops configuring, naming the supported versions, when
# it is not one of CRUST_SUPPORTED_WABT_VERSIONS (the list in
# src/engine/prepare/wabt_adapter.h, kSupportedWabtVersions: keep both equal).
# Sets CRUST_WABT_VERSION. Also runs in script mode (cmake -P) with
# -DCRUST_WABT_CONFIG_H=<file>, for the ctest test "wabt_version_check".
if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.25)  # policies (IN_LIST) in script mode
endif()
set(CRUST_SUPPORTED_WABT_VERSIONS "1.0.32")

function(crust_check_wabt_version config_h)
  file(STRINGS ${config_h} _line REGEX "^#define WABT_VERSION_STRING ")
  string(REGEX MATCH "\"([^\"]*)\"" _match "${_line}")
  set(_version "${CMAKE_MATCH_1}")
  if(NOT _version IN_LIST CRUST_SUPPORTED_WABT_VERSIONS)
    string(REPLACE ";" ", " _supported "${CRUST_SUPPORTED_WABT_VERSIONS}")
    message(FATAL_ERROR "crust: unsupported wabt version '${_version}' (${config_h}). "
                        "crust supports wabt ${_supported} only (Debian 12's package): it patches "
                        "wasm2c's exact output and relies on that release's decoder. To port, see "
                        "src/engine/prepare/wabt_adapter.h.")
  endif()
  set(CRUST_WABT_VERSION "${_version}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CRUST_WABT_CONFIG_H)
  crust_check_wabt_version(${CRUST_WABT_CONFIG_H})
  message(STATUS "wabt ${CRUST_WABT_VERSION}: supported")
endif()
