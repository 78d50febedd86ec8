/* The few crust_sdk.h calls vm_kernels.c uses, for a native build of the same
 * C (kernel_bench compiles it with gcc and clang into a shared object and
 * calls crust_export_<name> after writing the argument into kernel_arg). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

unsigned char kernel_arg[64];
static inline unsigned char* crust_arg(void) { return kernel_arg; }
static inline uint32_t crust_read_u32(const unsigned char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline int32_t crust_return_u64(uint64_t v) {
  memcpy(kernel_arg, &v, 8);
  return 8;
}
__attribute__((noreturn)) static inline void crust_panic(const char* msg) {
  (void)msg;
  __builtin_trap();
}
#define CRUST_EXPORT(name) \
  __attribute__((visibility("default"))) int32_t crust_export_##name(__attribute__((unused)) int32_t arg_len)
