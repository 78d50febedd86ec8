// Copyright (c) crust authors. Licensed under the MIT license.
//
// What the Tiny C Compiler (CompilerFlavor::kTcc, the fast tier) needs to
// compile wasm2c 1.0.32's output: a prelude placed before the generated C.
//
// tcc 0.9.27 gets float negation wrong for NaNs (AdaptForTcc below), knows
// __builtin_expect and __builtin_memcpy but not the bit
// builtins wasm2c's I32_CLZ / I64_CTZ / I32_POPCNT... macros call; the prelude
// defines them as C functions with GCC's results for every argument wasm2c
// passes (clz and ctz are only called with non-zero arguments: the macros test
// for zero first). Everything else in the generated code and in wasm_rt_abi.h
// is C99 plus GNU extensions tcc implements (statement attributes, _Alignof,
// variable-length arrays, __attribute__((noreturn))). Loads wasm2c keeps alive
// with an empty asm under __GNUC__ are never removed by tcc, which does not
// optimise them away.
//
// Thread-safety: immutable text.
#pragma once

#include <cstdint>
#include <string>

#include "crust/status.h"

namespace crust::engine {

// Part of the fast tier's fingerprint; bump on any change of the text or of
// AdaptForTcc.
inline constexpr int kTccPreludeVersion = 2;

const std::string& TccPrelude();

// Makes wasm2c's C (the module's .c text) compile to the same results under
// tcc: prepends TccPrelude(), and rewrites float negation. wasm2c writes
// f32.neg / f64.neg as `= -(x);`, which tcc compiles as (-0.0) - x: right for
// numbers, but a NaN comes out quieted with its sign unchanged, where wasm
// flips the sign bit only. The rewrite calls a sign-bit flip instead
// (_Generic picks the width; an integer there would not compile). wasm2c
// 1.0.32 emits `= -(` for nothing else.
void AdaptForTcc(std::string* c);

// tcc writes no -fstack-usage report, so the frame bound every compiled
// function must respect (runtime_call.h: NativeFrameBound, which sizes
// the dedicated call stack) is read from the object itself: on x86-64 every
// function tcc 0.9.27 emits starts `push %rbp; mov %rsp,%rbp; sub $N,%rsp`
// (N patched in after the body is generated), so its frame is N + 16 bytes;
// the linker's _init/_fini start `sub $n,%rsp` (a frame of n + 8).
// Checks every function symbol of the shared object at `so_path`.
// Internal naming the function when a frame exceeds `max_frame` (a host
// defect: the bound comes from the wasm, runtime_call.h NativeFrameBound);
// NotSupported when a function does not start that way (another
// architecture, another tcc): the fast tier is then not used for the module,
// and the optimised build (checked by -fstack-usage) serves it instead.
Status CheckTccFrames(const std::string& so_path, uint64_t max_frame);

}  // namespace crust::engine
