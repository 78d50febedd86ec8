// Copyright (c) crust authors. Licensed under the MIT license.
//
// Page inclusion proofs: `prove` writes one from a commit, `check-proof`
// checks one against a root with no store at hand.
#include <charconv>
#include <cstdio>
#include <string>

#include "crust/proof.h"
#include "crust/session.h"
#include "tools/crust/commands.h"

namespace crust::tool {
namespace {

Result<uint32_t> ParsePage(std::string_view text) {
  uint32_t page = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), page);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("PAGE must be a page number (0, 1, ...), not \"" + std::string(text) + "\"");
  }
  return page;
}

Status WriteOut(const std::string& path, const Bytes& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::IOError("cannot create " + path);
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) return Status::IOError("cannot write " + path);
  return Status::OK();
}

void PrintProof(const PageProof& p, const Output& out, const char* verdict) {
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("root", p.root.ToHex());
    w.Field("module", p.module.ToHex());
    w.Field("page", uint64_t{p.page});
    w.Field("memory_length", p.memory_length);
    w.Field("data", ToHex(p.data));
    w.Field("verified", true);
    w.EndObject();
    out.PrintJson(&w);
    return;
  }
  out.Print(std::string(verdict) + ": page " + std::to_string(p.page) + " of module " + p.module.ToHex() +
            " is in root " + p.root.ToHex() + "\n");
}

int RunProve(const ParsedArgs& args, const Output& out) {
  for (size_t i = 0; i < 2; i++) {
    Status syntax = CheckIdSyntax(args.positional[i], i == 0 ? "ROOT" : "MODULE");
    if (!syntax.ok()) return out.UsageFail(syntax);
  }
  auto page = ParsePage(args.positional[2]);
  if (!page.ok()) return out.UsageFail(page.status());
  auto out_path = args.Value("out");
  if (!out_path) return out.UsageFail(Status::InvalidArgument("prove needs --out FILE (where to write the proof)"));
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto root = ResolveRoot(store->get(), args.positional[0], "ROOT");
  if (!root.ok()) return out.Fail(root.status());
  auto session = (*store)->StartSession(*root);
  if (!session.ok()) return out.Fail(session.status());
  auto module = ResolveModule(session->get(), args.positional[1], "MODULE");
  session->reset();
  if (!module.ok()) return out.Fail(module.status());
  auto proof = (*store)->ProvePage(*root, *module, *page);
  if (!proof.ok()) return out.Fail(proof.status());
  Status written = WriteOut(*out_path, EncodePageProof(*proof));
  if (!written.ok()) return out.Fail(written);
  PrintProof(*proof, out, "proved");
  return kExitOk;
}

int RunCheckProof(const ParsedArgs& args, const Output& out) {
  auto root = ParseHash(args.positional[0]);
  if (!root.ok()) return out.UsageFail(root.status());
  auto bytes = ReadInput(args.positional[1]);
  if (!bytes.ok()) return out.Fail(bytes.status());
  auto proof = DecodePageProof(*bytes);
  if (!proof.ok()) return out.Fail(proof.status().WithContext(args.positional[1]));
  Status s = VerifyPageProof(*root, *proof);
  if (!s.ok()) return out.Fail(s.WithContext(args.positional[1]));
  if (auto want = args.Value("module")) {
    auto id = ParseHash(*want);
    if (!id.ok()) return out.UsageFail(id.status());
    if (*id != proof->module) {
      return out.Fail(Status::Corruption(args.positional[1] + " proves a page of module " + proof->module.ToHex() +
                                         ", not of " + id->ToHex()));
    }
  }
  if (auto want = args.Value("page")) {
    auto page = ParsePage(*want);
    if (!page.ok()) return out.UsageFail(page.status());
    if (*page != proof->page) {
      return out.Fail(Status::Corruption(args.positional[1] + " proves page " + std::to_string(proof->page) +
                                         ", not page " + std::to_string(*page)));
    }
  }
  PrintProof(*proof, out, "valid");
  return kExitOk;
}

constexpr OptionSpec kProveOptions[] = {
    {.name = "out", .value_name = "FILE", .help = "write the proof to FILE (required)"},
};

constexpr OptionSpec kCheckProofOptions[] = {
    {.name = "module", .value_name = "HEX", .help = "also require the proof to be of this module"},
    {.name = "page", .value_name = "N", .help = "also require the proof to be of this page"},
};

constexpr Command kProofCommands[] = {
    {.name = "prove",
     .usage = "prove --out FILE ROOT MODULE PAGE",
     .summary = "Write a proof that a page of a module's memory is in a commit",
     .help = "Writes to FILE a proof that page PAGE (4 KiB, counted from 0) of MODULE's memory\n"
             "(ROOT and MODULE: 64 hex characters or a unique prefix of at least 8)\n"
             "is part of commit ROOT: the page's bytes, its path in the memory's page tree and\n"
             "the module's path among the state's modules (docs/format.md, \"Page proof\").\n"
             "Anyone holding ROOT can check it with `crust check-proof`, no store needed.\n"
             "Opens the store read-only. JSON: {\"root\", \"module\", \"page\", \"memory_length\",\n"
             "\"data\": HEX, \"verified\": true}.",
     .options = kProveOptions,
     .min_args = 3,
     .max_args = 3,
     .run = RunProve},
    {.name = "check-proof",
     .usage = "check-proof [--module HEX] [--page N] ROOT FILE",
     .summary = "Check a page proof against a root (no store needed)",
     .help = "Checks that FILE (written by `crust prove`) proves a page of a module's memory\n"
             "to be in the state whose root is ROOT, and prints which page and module. Exit\n"
             "status 1 when it does not (a page that does not match, another module or\n"
             "another root). --module and --page also require the proof to be of them.\n"
             "Needs no store, so ROOT and --module are given in full (64 hex characters).\n"
             "JSON: as `prove`.",
     .options = kCheckProofOptions,
     .min_args = 2,
     .max_args = 2,
     .run = RunCheckProof},
};

}  // namespace

std::span<const Command> ProofCommands() { return kProofCommands; }

}  // namespace crust::tool
