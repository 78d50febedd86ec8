/* Second translation unit of sdk_all_cxx (see sdk_all.cc). */
#include "crust_sdk.h"

CRUST_EXPORT(second) {
  void *p = crust_alloc(16);
  crust_self_id(crust_arg());
  return crust_return(p, 16) + 32;
}
