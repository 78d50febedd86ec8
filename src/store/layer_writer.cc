// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/layer_writer.h"

#include <utility>

#include "src/store/layer_stream.h"

namespace crust::store {
namespace {

Result<std::unique_ptr<os::WritableFile>> CreateLayerFile(const LayerWriteArgs& a) {
  if (a.made_file.empty()) return a.env->NewWritableFile(a.path);
  return a.env->NewWritableFileFrom(a.made_file, a.path);
}

// kBuffered and kMerged: the frame is encoded by chunks (LayerEncoder), the
// layer assembled after the hashing and written whole.
class BufferedLayerWriter final : public LayerWriter {
 public:
  BufferedLayerWriter(LayerWriteArgs args, bool hash_leaves)
      : args_(std::move(args)),
        encoder_(args_.committed, args_.plan, args_.dirty, args_.memory, args_.compression_level, args_.what),
        hash_leaves_(hash_leaves) {
    if (hash_leaves_) encoder_.ComputeLeaves(&leaves_);
  }

  Status Start() override { return encoder_.Start(); }
  size_t chunks() const override { return encoder_.chunks(); }
  Status RunChunk(size_t c) override { return encoder_.EncodeChunk(c); }
  std::vector<Hash32>* leaves() override { return hash_leaves_ ? &leaves_ : nullptr; }

  Result<WrittenLayer> Finish(std::vector<TreeNode> changed) override {
    ASSIGN_OR_RETURN(Bytes frame, encoder_.Finish());
    WrittenLayer out;
    ASSIGN_OR_RETURN(out.layer, AssembleLayer(args_.committed, args_.plan, std::move(frame), std::move(changed)));
    ASSIGN_OR_RETURN(Bytes bytes, out.layer->Encode(args_.compression_level, args_.path));
    ASSIGN_OR_RETURN(out.file, CreateLayerFile(args_));
    RETURN_IF_ERROR(out.file->Append(bytes));
    return out;
  }

 private:
  const LayerWriteArgs args_;
  LayerEncoder encoder_;
  const bool hash_leaves_;
  std::vector<Hash32> leaves_;
};

// kStreamed: StreamedLayer over the file it writes.
class StreamedLayerWriter final : public LayerWriter {
 public:
  explicit StreamedLayerWriter(LayerWriteArgs args) : args_(std::move(args)) {}

  Status Start() override {
    ASSIGN_OR_RETURN(file_, CreateLayerFile(args_));
    stream_ = std::make_unique<StreamedLayer>(args_.committed, args_.plan, args_.dirty, args_.memory,
                                              args_.compression_level, file_.get(), args_.what + " " + args_.path);
    return stream_->Start();
  }
  size_t chunks() const override { return stream_ ? stream_->chunks() : 0; }
  Status RunChunk(size_t c) override { return stream_->RunChunk(c); }
  std::vector<Hash32>* leaves() override { return stream_->leaves(); }
  bool computes_nodes() const override { return true; }
  std::vector<TreeNode> FinishNodes() override { return stream_->FinishNodes(); }

  Result<WrittenLayer> Finish(std::vector<TreeNode> changed) override {
    WrittenLayer out;
    ASSIGN_OR_RETURN(out.layer, stream_->Finish(std::move(changed)));
    stream_.reset();
    out.file = std::move(file_);
    return out;
  }

 private:
  const LayerWriteArgs args_;
  std::unique_ptr<os::WritableFile> file_;  // outlives stream_, which writes it
  std::unique_ptr<StreamedLayer> stream_;
};

}  // namespace

LayerWriteMode ChooseLayerWrite(const CommittedMemory& committed, const LayerPlan& plan, bool beside_hashing) {
  if (!beside_hashing) return LayerWriteMode::kBuffered;
  // A layer of exactly the dirty pages can be written while it is computed.
  if (plan.keep == committed.layers().size()) return LayerWriteMode::kStreamed;
  return LayerWriteMode::kMerged;
}

std::unique_ptr<LayerWriter> NewLayerWriter(LayerWriteMode mode, LayerWriteArgs args) {
  switch (mode) {
    case LayerWriteMode::kStreamed:
      return std::make_unique<StreamedLayerWriter>(std::move(args));
    case LayerWriteMode::kMerged:
      return std::make_unique<BufferedLayerWriter>(std::move(args), /*hash_leaves=*/true);
    case LayerWriteMode::kBuffered:
      break;
  }
  return std::make_unique<BufferedLayerWriter>(std::move(args), /*hash_leaves=*/false);
}

}  // namespace crust::store
