// libFuzzer target: server bytes -> ReplyScanner -> the helpers and mergers
// that read replies (arrays, subscription counts, pub/sub messages, every
// ReplyMerger kind). A server is trusted less than nothing here: whatever it
// sends must not crash the proxy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/reply_scanner.h"
#include "proxy/pubsub_protocol.h"
#include "proxy/reply_merger.h"

using namespace redkube;
using namespace redkube::proxy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  ReplyScanner scanner;
  std::vector<std::string> replies;
  size_t offset = 0;
  while (offset < input.size() && replies.size() < 16) {
    int64_t len = scanner.Scan(input.data() + offset, input.size() - offset);
    if (len <= 0) break;
    if (static_cast<size_t>(len) > input.size() - offset) abort();
    replies.emplace_back(input.substr(offset, static_cast<size_t>(len)));
    offset += static_cast<size_t>(len);
  }
  std::vector<std::string_view> elements;
  for (const auto& r : replies) {
    SplitArray(r, &elements);
    (void)SubscriptionCount(r);
    (void)IsPubsubMessage(r);
    (void)IsErrorReply(r);
  }
  if (replies.empty()) return 0;
  ReplyMerger merger;
  std::string out;
  for (auto kind :
       {ReplyMerger::Kind::kAllOk, ReplyMerger::Kind::kSumIntegers, ReplyMerger::Kind::kConcatArrays,
        ReplyMerger::Kind::kFirstReply, ReplyMerger::Kind::kAndArrays, ReplyMerger::Kind::kRandomNonNil,
        ReplyMerger::Kind::kScanCursor, ReplyMerger::Kind::kInfo, ReplyMerger::Kind::kSumPairs,
        ReplyMerger::Kind::kMinInteger, ReplyMerger::Kind::kMgetByPosition, ReplyMerger::Kind::kConfigGet}) {
    merger.Reset(kind, static_cast<uint32_t>(replies.size()));
    merger.positions.clear();
    if (kind == ReplyMerger::Kind::kMgetByPosition) {
      // Positions as a split MGET would have made them, some beyond what
      // the servers answered.
      for (uint32_t i = 0; i < 8; ++i) merger.positions.emplace_back(i % replies.size(), i / replies.size());
    }
    merger.scan_position = 0;
    merger.scan_positions = static_cast<uint32_t>(replies.size());
    merger.scan_tag = 1;
    static constexpr std::string_view kEverything[] = {"everything"};
    merger.info_selection = InfoSelection(kEverything);  // every section merged
    for (size_t i = 0; i < replies.size(); ++i) merger.SetPart(static_cast<uint32_t>(i), replies[i]);
    out.clear();
    merger.Finish(&out);
  }
  return 0;
}
