// Combines the replies of the parts of a split or fan-out request into the
// one reply a single redis-server would have given, with one merge function
// per kind (a table indexed by Kind). Reused across requests (Reset): its
// part buffers and scratch vectors keep their capacity, so a split MGET
// merges without allocating once warm.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/info_merge.h"

namespace redkube::proxy {

class ReplyMerger {
 public:
  enum class Kind {
    kMgetByPosition,  // MGET: element i of the result comes from positions[i]
    kAllOk,           // MSET, FLUSHALL, SCRIPT FLUSH...: +OK if every part is
    kSumIntegers,     // DEL, EXISTS, DBSIZE...: sum of integer replies
    kConcatArrays,    // KEYS: all elements of all parts
    kFirstReply,      // SCRIPT LOAD, FUNCTION LOAD/LIST: the parts agree; first
    kAndArrays,       // SCRIPT EXISTS: element-wise AND of 0/1 arrays
    kRandomNonNil,    // RANDOMKEY: any non-nil part
    kScanCursor,      // SCAN: one part; its cursor is mapped to the proxy's (ScanCursor)
    kInfo,            // INFO: the proxy's sections and the masters' combined (MergeInfo)
    kSumPairs,        // PUBSUB NUMSUB: [name, n, ...] per part; n summed by position
    kMinInteger,      // WAIT: the smallest integer reply (what every shard reached)
    kCustom,          // LATENCY, MEMORY...: `custom` merges (admin_commands.cc)
  };
  static constexpr int kKinds = static_cast<int>(Kind::kCustom) + 1;
  // kCustom: merges the parts (none is an error; part i from shard i).
  using CustomMerge = void (*)(std::span<const std::string> parts, const ReplyMerger& m, std::string* out);

  // Prepares for a request of `parts` backend replies.
  void Reset(Kind kind, uint32_t parts);
  Kind kind() const { return kind_; }

  void SetPart(uint32_t part, std::string_view reply);
  // The merged reply. Any error part makes the result that error (the first
  // in part order), as a single server would have failed the command.
  void Finish(std::string* out);

  // kMgetByPosition: (part, index within that part's array) per result element.
  std::vector<std::pair<uint32_t, uint32_t>> positions;
  // kScanCursor: the position in the scan order of the shard the part came
  // from, how many positions there are, and the layout tag to issue.
  uint32_t scan_position = 0;
  uint32_t scan_positions = 0;
  uint32_t scan_tag = 0;
  // kInfo: the proxy's own sections and fields (MergeInfo's proxy_text),
  // and the sections asked for.
  std::string info_prefix;
  InfoSelection info_selection;
  // kCustom: the merge, and a label per part (the shard's id) for replies
  // that give each shard's text.
  CustomMerge custom = nullptr;
  std::vector<std::string> part_labels;

 private:
  using MergeFunction = void (*)(ReplyMerger& m, std::string* out);
  static const MergeFunction kMerge[kKinds];

  static void MergeMget(ReplyMerger& m, std::string* out);
  static void MergeAllOk(ReplyMerger& m, std::string* out);
  static void MergeSum(ReplyMerger& m, std::string* out);
  static void MergeConcat(ReplyMerger& m, std::string* out);
  static void MergeFirst(ReplyMerger& m, std::string* out);
  static void MergeAnd(ReplyMerger& m, std::string* out);
  static void MergeRandom(ReplyMerger& m, std::string* out);
  static void MergeScan(ReplyMerger& m, std::string* out);
  static void MergeInfo(ReplyMerger& m, std::string* out);
  static void MergeSumPairs(ReplyMerger& m, std::string* out);
  static void MergeMin(ReplyMerger& m, std::string* out);
  static void MergeCustom(ReplyMerger& m, std::string* out);

  Kind kind_ = Kind::kAllOk;
  std::vector<std::string> parts_;
  std::vector<std::string_view> elements_;            // scratch
  std::vector<std::vector<std::string_view>> split_;  // scratch: each part's elements
};

}  // namespace redkube::proxy
