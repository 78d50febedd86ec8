// Copyright (c) crust authors. Licensed under the MIT license.
//
// Gas charges of instrumentation version 3 for one function body: charges
// deferred to the points where the counter is observed or must stop a loop
// (see instrument.h, "Gas", and docs/abi.md section 9 for the rules).
//
// PlanDeferredGas walks the function's original instructions (before any
// other instrumentation) and, when it can place every charge, inserts them
// and returns the charge that belongs after the body (the function's exit,
// which WrapBody places after its wrapper block). It returns nullopt and
// changes nothing when the body has something the plan does not handle (a
// br_table whose targets need different credits, a branch label given by
// name, tail calls or exceptions); the caller then charges the function the
// version-2 way, segment by segment.
//
// Thread-safety: a free function; the module must not be shared.
#pragma once

#include <cstdint>
#include <optional>

#include "wabt/ir.h"

namespace crust::engine {

struct GasGlobals {
  uint32_t gas = 0;   // i64 remaining
  uint32_t trap = 0;  // i32 InjectedTrap
};

// Returns the exit charge (possibly empty) on success.
std::optional<wabt::ExprList> PlanDeferredGas(wabt::Func* f, GasGlobals globals);

}  // namespace crust::engine
