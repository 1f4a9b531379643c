// libFuzzer target: client bytes -> RequestParser -> command routing (table
// lookup, arity, key extraction, slots), the path every client byte takes.
// Input arrives in two reads, split where the first byte says, and the
// second read sees the bytes moved to a new buffer, as a growing input
// buffer would.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/resp_parser.h"
#include "core/slot.h"
#include "proxy/command_table.h"

using redkube::RequestParser;
using namespace redkube::proxy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = 1 + data[0] % size;  // bytes of the first read
  std::string first(reinterpret_cast<const char*>(data) + 1, split - 1);
  std::string all(reinterpret_cast<const char*>(data) + 1, size - 1);
  RequestParser parser;
  std::vector<uint32_t> keys;
  const std::string* buffer = &first;
  size_t offset = 0;
  for (;;) {
    if (offset >= buffer->size()) {
      if (buffer == &all) break;
      buffer = &all;  // the second read: same bytes, moved, followed by more
      continue;
    }
    size_t consumed = 0;
    auto result = parser.Parse(buffer->data() + offset, buffer->size() - offset, &consumed);
    if (result == RequestParser::Result::kNeedMore) {
      if (buffer == &all) break;
      buffer = &all;
      continue;
    }
    if (result == RequestParser::Result::kError) break;
    if (consumed == 0 || consumed > buffer->size() - offset) abort();  // the contract
    if (result == RequestParser::Result::kComplete) {
      auto args = parser.args();
      if (args.empty()) abort();
      const CommandSpec* spec = CommandTable::Instance().Resolve(args);
      if (spec != nullptr && ArityOk(*spec, args.size()) &&
          ExtractKeys(*spec, args, &keys) == KeyExtraction::kOk) {
        for (uint32_t k : keys) {
          if (k >= args.size()) abort();
          if (redkube::KeySlot(args[k]) >= 16384) abort();
        }
      }
    }
    offset += consumed;
  }
  return 0;
}
