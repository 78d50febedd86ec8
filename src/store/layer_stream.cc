// Copyright (c) crust authors. Licensed under the MIT license.
#include "src/store/layer_stream.h"

#include <algorithm>
#include <cstring>

#include "src/store/format.h"
#include "src/util/coding.h"

namespace crust::store {
namespace {

constexpr size_t kHeaderSize = kDeltaHeaderSize;
constexpr size_t kNodeSize = kDeltaNodeSize;

}  // namespace

StreamedLayer::StreamedLayer(const CommittedMemory& committed, const LayerPlan& plan,
                             const std::vector<uint32_t>& dirty, const uint8_t* memory, int level,
                             os::WritableFile* file, std::string what)
    : committed_(committed),
      plan_(plan),
      dirty_(dirty),
      file_(file),
      what_(std::move(what)),
      encoder_(committed, plan, dirty, memory, level, what_) {}

size_t StreamedLayer::chunks() const { return paths_ ? paths_->chunks() : 0; }

Status StreamedLayer::Start() {
  if (plan_.keep != committed_.layers().size() || plan_.pages != dirty_) {
    return Status::InvalidArgument(what_ + ": a streamed layer cannot merge older layers");
  }
  const size_t n = dirty_.size();
  std::vector<size_t> cuts = ChunkedPathUpdate::ChooseCuts(dirty_, kChunkPages);
  const CommittedMemory* c = &committed_;
  paths_ = std::make_unique<ChunkedPathUpdate>(dirty_, cuts, [c](NodeKey k) { return c->Node(k); });
  encoder_.SetChunks(cuts);
  encoder_.ComputeLeaves(&leaves_);
  RETURN_IF_ERROR(encoder_.Start());

  // The node section: per level, the distinct ancestors of the dirty pages,
  // ascending; levels one after another (key order).
  node_count_.assign(kTreeDepth + 1, 0);
  level_start_.assign(kTreeDepth + 2, 0);
  for (int k = 0; k <= kTreeDepth; k++) {
    node_count_[k] = CountAncestors(dirty_.data(), n, k);
    level_start_[k + 1] = level_start_[k] + node_count_[k];
  }
  total_nodes_ = level_start_[kTreeDepth + 1];
  // Filled by the chunks (levels below early_levels_) and Finish (the rest).
  nodes_.reset(new uint8_t[total_nodes_ * kNodeSize]);
  // Where each chunk's nodes go in the levels every chunk computes.
  early_levels_ = std::min(paths_->min_top(), kTreeDepth + 1);
  offset_.assign(paths_->chunks(), std::vector<uint32_t>(static_cast<size_t>(early_levels_)));
  for (int k = 0; k < early_levels_; k++) {
    uint32_t at = 0;
    for (size_t ch = 0; ch < paths_->chunks(); ch++) {
      offset_[ch][k] = at;
      at += paths_->count(ch, k);
    }
    if (at != node_count_[k]) {
      return Status::Aborted(what_ + ": chunked node counts disagree at level " + std::to_string(k));
    }
  }
  node_base_ = kHeaderSize + 4 * uint64_t{n};
  done_.assign(paths_->chunks(), false);
  written_.assign(static_cast<size_t>(early_levels_), 0);
  page_list_.resize(4 * n);
  for (size_t i = 0; i < n; i++) EncodeFixed32(page_list_.data() + 4 * i, dirty_[i]);
  return file_->WriteAt(kHeaderSize, page_list_);
}

Status StreamedLayer::RunChunk(size_t c) {
  RETURN_IF_ERROR(encoder_.EncodeChunk(c));
  paths_->RunChunk(c, leaves_.data() + paths_->first(c));
  for (int k = 0; k < early_levels_; k++) {
    const LevelNodes& level = paths_->nodes(c, k);
    uint8_t* p = nodes_.get() + (level_start_[k] + offset_[c][k]) * kNodeSize;
    const uint64_t planned = (c + 1 < done_.size() ? offset_[c + 1][k] : node_count_[k]) - offset_[c][k];
    if (level.size() != planned) {
      return Status::Aborted(what_ + ": chunk " + std::to_string(c) + " has " + std::to_string(level.size()) +
                             " nodes at level " + std::to_string(k) + ", " + std::to_string(planned) + " planned");
    }
    for (const auto& [index, hash] : level) {
      EncodeFixed32(p, MakeNodeKey(k, index));
      std::memcpy(p + 4, hash.bytes.data(), 32);
      p += kNodeSize;
    }
  }
  return WriteFinished(c);
}

Status StreamedLayer::WriteFinished(size_t c) {
  struct Range {
    uint64_t at;
    const uint8_t* data;
    uint64_t len;
  };
  std::unique_lock<std::mutex> l(mu_);
  done_[c] = true;
  if (writing_) return Status::OK();  // the thread writing will see chunk c
  writing_ = true;
  for (;;) {
    while (prefix_ < done_.size() && done_[prefix_]) prefix_++;
    // In batches of chunks (a system call per level each time); the rest
    // is left to Finish.
    if (prefix_ < written_chunks_ + kWriteEvery || prefix_ == done_.size()) break;
    written_chunks_ = prefix_;
    std::vector<Range> ranges;
    for (int k = 0; k < early_levels_; k++) {
      const uint64_t to = uint64_t{offset_[prefix_][k]} * kNodeSize;
      const uint64_t level_at = level_start_[k] * kNodeSize;
      if (to > written_[k]) ranges.push_back({node_base_ + level_at + written_[k], nodes_.get() + level_at + written_[k], to - written_[k]});
      written_[k] = std::max(written_[k], to);
    }
    // Write without the lock: chunks finishing meanwhile fill other bytes.
    l.unlock();
    Status s;
    for (const Range& r : ranges) {
      s = file_->WriteAt(r.at, ByteView(r.data, r.len));
      if (!s.ok()) break;
    }
    l.lock();
    if (!s.ok()) {
      writing_ = false;
      return s;
    }
  }
  writing_ = false;
  return Status::OK();
}

std::vector<TreeNode> StreamedLayer::FinishNodes() { return paths_->Finish(); }

Result<std::shared_ptr<DeltaLayer>> StreamedLayer::Finish(std::vector<TreeNode> changed) {
  for (size_t c = 0; c < done_.size(); c++) {
    if (!done_[c]) return Status::Aborted(what_ + ": finished before every chunk ran");
  }
  ASSIGN_OR_RETURN(Bytes frame, encoder_.Finish());
  if (changed.size() != total_nodes_) {
    return Status::Aborted(what_ + ": " + std::to_string(changed.size()) + " changed tree nodes, " +
                           std::to_string(total_nodes_) + " planned");
  }
  // Every node placed early must be where the final list puts it (this
  // checks placement; the chunked update itself is tested against
  // UpdatePaths); the rest are filled in.
  const uint64_t late = early_levels_ <= kTreeDepth ? level_start_[early_levels_] : total_nodes_;
  for (uint64_t i = 0; i < total_nodes_; i++) {
    uint8_t* p = nodes_.get() + i * kNodeSize;
    if (i >= late) {
      EncodeFixed32(p, changed[i].key);
      std::memcpy(p + 4, changed[i].hash.bytes.data(), 32);
    } else if (DecodeFixed32(p) != changed[i].key || std::memcmp(p + 4, changed[i].hash.bytes.data(), 32) != 0) {
      return Status::Aborted(what_ + ": streamed tree node " + std::to_string(changed[i].key) +
                             " is not where the final node list puts it");
    }
  }
  // The early levels' bytes not written yet (the last chunks').
  for (int k = 0; k < early_levels_; k++) {
    const uint64_t to = node_count_[k] * kNodeSize;
    const uint64_t level_at = level_start_[k] * kNodeSize;
    if (to > written_[k]) {
      RETURN_IF_ERROR(file_->WriteAt(node_base_ + level_at + written_[k],
                                     ByteView(nodes_.get() + level_at + written_[k], to - written_[k])));
      written_[k] = to;
    }
  }
  const Bytes page_map = EncodeDeltaPageMap(frame, dirty_.size());
  uint8_t header[kHeaderSize];
  EncodeDeltaHeader(header, static_cast<uint32_t>(dirty_.size()), static_cast<uint32_t>(total_nodes_),
                    page_map.empty() ? 0 : kDeltaFlagPageMap, frame.size());
  RETURN_IF_ERROR(file_->WriteAt(0, ByteView(header, kHeaderSize)));
  if (late < total_nodes_) {
    RETURN_IF_ERROR(file_->WriteAt(node_base_ + late * kNodeSize,
                                   ByteView(nodes_.get() + late * kNodeSize, (total_nodes_ - late) * kNodeSize)));
  }
  const uint64_t map_at = node_base_ + total_nodes_ * kNodeSize;
  if (!page_map.empty()) RETURN_IF_ERROR(file_->WriteAt(map_at, page_map));
  const uint64_t data_at = map_at + page_map.size();
  if (!frame.empty()) RETURN_IF_ERROR(file_->WriteAt(data_at, frame));
  const Bytes tail = EncodeDeltaChecksums({ByteView(header, kHeaderSize), ByteView(page_list_),
                                           ByteView(nodes_.get(), total_nodes_ * kNodeSize), ByteView(page_map),
                                           ByteView(frame)});
  RETURN_IF_ERROR(file_->WriteAt(data_at + frame.size(), tail));
  return DeltaLayer::FromFrame(plan_.pages, std::move(frame), std::move(changed));
}

}  // namespace crust::store
