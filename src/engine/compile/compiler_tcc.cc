// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/compile/compiler_tcc.h"

#include <elf.h>

#include <cstring>

#include <string_view>

#include "src/os/env.h"

namespace crust::engine {
namespace {

constexpr char kPrelude[] = R"(/* ---- crust: tcc prelude (compiler_tcc.h) ---- */
static unsigned crust_tcc_clz64(unsigned long long x) {
  unsigned n = 0;
  if (!(x >> 32)) { n += 32; x <<= 32; }
  if (!(x >> 48)) { n += 16; x <<= 16; }
  if (!(x >> 56)) { n += 8; x <<= 8; }
  if (!(x >> 60)) { n += 4; x <<= 4; }
  if (!(x >> 62)) { n += 2; x <<= 2; }
  if (!(x >> 63)) { n += 1; }
  return n;
}
static unsigned crust_tcc_ctz64(unsigned long long x) {
  unsigned n = 0;
  if (!(x & 0xffffffffull)) { n += 32; x >>= 32; }
  if (!(x & 0xffffull)) { n += 16; x >>= 16; }
  if (!(x & 0xffull)) { n += 8; x >>= 8; }
  if (!(x & 0xfull)) { n += 4; x >>= 4; }
  if (!(x & 0x3ull)) { n += 2; x >>= 2; }
  if (!(x & 0x1ull)) { n += 1; }
  return n;
}
static unsigned crust_tcc_popcount64(unsigned long long x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
}
static int crust_tcc_clz32(unsigned x) { return (int)crust_tcc_clz64((unsigned long long)x) - 32; }
static int crust_tcc_ctz32(unsigned x) { return (int)crust_tcc_ctz64((unsigned long long)x); }
static int crust_tcc_popcount32(unsigned x) { return (int)crust_tcc_popcount64((unsigned long long)x); }
#define __builtin_clz(x) crust_tcc_clz32(x)
#define __builtin_clzll(x) ((int)crust_tcc_clz64(x))
#define __builtin_ctz(x) crust_tcc_ctz32(x)
#define __builtin_ctzll(x) ((int)crust_tcc_ctz64(x))
#define __builtin_popcount(x) crust_tcc_popcount32(x)
#define __builtin_popcountll(x) ((int)crust_tcc_popcount64(x))
#define __builtin_unreachable() abort()
/* wasm's fneg flips the sign bit, NaN or not (AdaptForTcc). */
static float crust_tcc_negf(float x) {
  unsigned b;
  __builtin_memcpy(&b, &x, 4);
  b ^= 0x80000000u;
  __builtin_memcpy(&x, &b, 4);
  return x;
}
static double crust_tcc_neg(double x) {
  unsigned long long b;
  __builtin_memcpy(&b, &x, 8);
  b ^= 0x8000000000000000ull;
  __builtin_memcpy(&x, &b, 8);
  return x;
}
#define crust_tcc_fneg(x) _Generic((x), float: crust_tcc_negf, double: crust_tcc_neg)(x)
/* ---- end of the tcc prelude ---- */
)";

}  // namespace

void AdaptForTcc(std::string* c) {
  static constexpr std::string_view kNeg = "= -(";
  static constexpr std::string_view kCall = "= crust_tcc_fneg(";
  std::string out;
  out.reserve(c->size() + TccPrelude().size() + 4096);
  out += TccPrelude();
  size_t from = 0;
  for (size_t at; (at = c->find(kNeg, from)) != std::string::npos; from = at + kNeg.size()) {
    out.append(*c, from, at - from);
    out += kCall;
  }
  out.append(*c, from, std::string::npos);
  *c = std::move(out);
}

const std::string& TccPrelude() {
  static const std::string* const text = new std::string(kPrelude);
  return *text;
}

}  // namespace crust::engine

namespace crust::engine {
namespace {

// The parts of an ELF64 little-endian shared object the frame check reads.
struct ElfView {
  const uint8_t* data;
  size_t size;
  template <class T>
  bool Read(uint64_t off, T* out) const {
    if (off > size || sizeof(T) > size - off) return false;
    std::memcpy(out, data + off, sizeof(T));
    return true;
  }
};

// The file offset of virtual address `addr` (through the PT_LOAD headers).
bool FileOffset(const ElfView& elf, const Elf64_Ehdr& eh, uint64_t addr, uint64_t* off) {
  for (uint16_t i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    if (!elf.Read(eh.e_phoff + uint64_t{i} * eh.e_phentsize, &ph)) return false;
    if (ph.p_type == PT_LOAD && addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz) {
      *off = ph.p_offset + (addr - ph.p_vaddr);
      return true;
    }
  }
  return false;
}

// The NUL-terminated name at `off` in the string table `names` (bounded).
std::string SymbolName(const ElfView& elf, const Elf64_Shdr& names, uint32_t off) {
  std::string out;
  for (uint64_t at = names.sh_offset + off; off < names.sh_size && out.size() < 256; ++at, ++off) {
    char c;
    if (!elf.Read(at, &c) || c == '\0') break;
    out += c;
  }
  return out.empty() ? std::string("?") : out;
}

}  // namespace

Status CheckTccFrames(const std::string& so_path, uint64_t max_frame) {
#if !defined(__x86_64__)
  return Status::NotSupported("the fast tier's frame check reads x86-64 prologues only");
#else
  auto bytes = os::Env::Default()->ReadFile(so_path, 1ull << 31);
  if (!bytes.ok()) return bytes.status();
  const ElfView elf{bytes->data(), bytes->size()};
  Elf64_Ehdr eh;
  if (!elf.Read(0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return Status::NotSupported(so_path + " is not an ELF64 object");
  }
  size_t functions = 0;
  for (uint16_t i = 0; i < eh.e_shnum; i++) {
    Elf64_Shdr sh;
    if (!elf.Read(eh.e_shoff + uint64_t{i} * eh.e_shentsize, &sh)) return Status::NotSupported(so_path + ": bad sections");
    if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) continue;
    if (sh.sh_entsize != sizeof(Elf64_Sym)) return Status::NotSupported(so_path + ": bad symbol table");
    Elf64_Shdr names{};  // the symbol table's string table, for messages
    if (sh.sh_link >= eh.e_shnum || !elf.Read(eh.e_shoff + uint64_t{sh.sh_link} * eh.e_shentsize, &names)) {
      return Status::NotSupported(so_path + ": bad symbol names");
    }
    for (uint64_t off = sh.sh_offset; off + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!elf.Read(off, &sym)) return Status::NotSupported(so_path + ": bad symbol");
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value == 0) continue;
      uint64_t at = 0;
      uint8_t prologue[11];
      if (!FileOffset(elf, eh, sym.st_value, &at) || !elf.Read(at, &prologue)) {
        return Status::NotSupported(so_path + ": a function's code is not in the file");
      }
      static const uint8_t kHead[7] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec};  // push rbp; mov rbp,rsp; sub rsp,imm32
      static const uint8_t kSmall[3] = {0x48, 0x83, 0xec};  // sub rsp,imm8: the linker's _init/_fini
      uint64_t frame = 0;
      if (std::memcmp(prologue, kHead, sizeof(kHead)) == 0) {
        uint32_t n;
        std::memcpy(&n, prologue + 7, 4);
        frame = uint64_t{n} + 16;
      } else if (std::memcmp(prologue, kSmall, sizeof(kSmall)) == 0) {
        frame = uint64_t{prologue[3]} + 8;
      } else {
        return Status::NotSupported(so_path + ": a function does not start with tcc's prologue");
      }
      if (frame > max_frame) {
        return Status::Internal("compiled function " + SymbolName(elf, names, sym.st_name) + " (tcc, " + so_path +
                                ") has a native stack frame of " + std::to_string(frame) + " bytes, more than the " +
                                std::to_string(max_frame) +
                                " bytes its module's wasm frames allow (runtime_call.h NativeFrameBound)");
      }
      functions++;
    }
  }
  if (functions == 0) return Status::NotSupported(so_path + ": no function symbols to check frames against");
  return Status::OK();
#endif
}

}  // namespace crust::engine
