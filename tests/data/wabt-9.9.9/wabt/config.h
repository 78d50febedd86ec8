/* A wabt/config.h of an unsupported wabt, for the ctest test wabt_version_check. */
#define WABT_VERSION_STRING "9.9.9"
