// Combines the replies of the parts of a split or fan-out request into the
// one reply a single redis-server would have given. Reused across requests
// (Reset) so steady-state merging allocates little.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
    kScanCursor,      // SCAN: one part; its cursor is mapped to the proxy's
    kInfo,            // INFO: proxy sections, shard 0's Server section, summed keyspace
    kSumPairs,        // PUBSUB NUMSUB: [name, n, ...] per part; n summed by position
    kMinInteger,      // WAIT: the smallest integer reply (what every shard reached)
  };

  // Prepares for a request of `parts` backend replies.
  void Reset(Kind kind, uint32_t parts);
  Kind kind() const { return kind_; }

  void SetPart(uint32_t part, std::string_view reply);
  // The merged reply. Any error part makes the result that error (the first
  // in part order), as a single server would have failed the command.
  void Finish(std::string* out);

  // kMgetByPosition: (part, index within that part's array) per result element.
  std::vector<std::pair<uint32_t, uint32_t>> positions;
  // kScanCursor: the shard the part came from and how many shards there are.
  uint32_t scan_shard = 0;
  uint32_t scan_shard_count = 0;
  // kInfo: the proxy's own sections, placed first; then part 0's "# Server"
  // section if info_server, then the keyspace summed over parts if
  // info_keyspace.
  std::string info_prefix;
  bool info_server = false;
  bool info_keyspace = false;

 private:
  void FinishScan(std::string* out);
  void FinishInfo(std::string* out);

  Kind kind_ = Kind::kAllOk;
  std::vector<std::string> parts_;
  std::vector<std::string_view> elements_;  // scratch
};

// SCAN cursors of the proxy: the backend cursor times kScanShardSlots plus
// the index of the shard being walked. Stable as long as the shard list is.
inline constexpr uint64_t kScanShardSlots = 1024;

}  // namespace redkube::proxy
