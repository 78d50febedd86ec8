# wabt (Debian 12: package wabt, scripts/install-deps.sh), found and checked
# at configure time against the versions crust's adapter
# (src/engine/prepare/wabt_adapter.h) is written for (cmake/WabtVersion.cmake): crust
# patches wasm2c's exact output, so another wabt fails here, clearly, rather
# than at deploy time.
include(${CMAKE_CURRENT_LIST_DIR}/WabtVersion.cmake)
find_package(wabt REQUIRED CONFIG)
# The version of the headers compiled against: WABT_VERSION_STRING in
# <wabt/config.h> (what the code sees, whatever the package's version file says).
get_target_property(_crust_wabt_includes wabt::wabt INTERFACE_INCLUDE_DIRECTORIES)
find_file(CRUST_WABT_CONFIG_H wabt/config.h PATHS ${_crust_wabt_includes} NO_DEFAULT_PATH)
if(NOT CRUST_WABT_CONFIG_H)
  find_file(CRUST_WABT_CONFIG_H wabt/config.h)
endif()
if(NOT CRUST_WABT_CONFIG_H)
  message(FATAL_ERROR "crust: wabt/config.h not found (wabt ${wabt_VERSION} at ${wabt_DIR}); "
                      "crust needs wabt ${CRUST_SUPPORTED_WABT_VERSIONS} (Debian 12: package wabt)")
endif()
crust_check_wabt_version(${CRUST_WABT_CONFIG_H})
message(STATUS "wabt ${CRUST_WABT_VERSION} (supported: ${CRUST_SUPPORTED_WABT_VERSIONS})")
