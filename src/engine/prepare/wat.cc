// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/engine/prepare/wat.h"

#include <memory>
#include <string>

#include "src/engine/prepare/validate.h"
#include "wabt/binary-writer.h"
#include "wabt/feature.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wabt/validator.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

namespace crust::engine {
namespace {

Status WatError(const wabt::Errors& errors) {
  std::string msg = "WAT";
  if (!errors.empty()) {
    msg += " line " + std::to_string(errors.front().loc.line) + ": " + errors.front().message;
  }
  return Status::InvalidArgument(msg);
}

}  // namespace

Result<Bytes> WatToWasm(std::string_view wat) {
  wabt::Errors errors;
  std::unique_ptr<wabt::WastLexer> lexer =
      wabt::WastLexer::CreateBufferLexer("inline.wat", wat.data(), wat.size(), &errors);
  std::unique_ptr<wabt::Module> module;
  wabt::WastParseOptions parse_options(DecodeFeatures());
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors, &parse_options))) {
    return WatError(errors);
  }
  wabt::ValidateOptions validate_options(DecodeFeatures());
  if (wabt::Failed(wabt::ValidateModule(module.get(), &errors, validate_options))) {
    return WatError(errors);
  }
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(DecodeFeatures(), true, false, false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, module.get(), write_options))) {
    return Status::InvalidArgument("WAT: could not encode the module");
  }
  const std::vector<uint8_t>& data = stream.output_buffer().data;
  return Bytes(data.begin(), data.end());
}

}  // namespace crust::engine
