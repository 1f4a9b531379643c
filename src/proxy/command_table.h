// The table of every Redis 7.0 command the proxy knows: arity, flags and key
// specs, generated from redis-server's own COMMAND INFO (see
// tools/gen_command_table.py) so that routing never relies on a hand-picked
// list. Read-only after static initialisation: safe to share across threads.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace redkube::proxy {

// Command flags, as COMMAND INFO reports them.
enum CommandFlag : uint32_t {
  kFlagWrite = 1u << 0,
  kFlagReadonly = 1u << 1,
  kFlagDenyOom = 1u << 2,
  kFlagAdmin = 1u << 3,
  kFlagPubsub = 1u << 4,
  kFlagNoscript = 1u << 5,
  kFlagBlocking = 1u << 6,
  kFlagLoading = 1u << 7,
  kFlagStale = 1u << 8,
  kFlagSkipMonitor = 1u << 9,
  kFlagSkipSlowlog = 1u << 10,
  kFlagFast = 1u << 11,
  kFlagNoAuth = 1u << 12,
  kFlagMayReplicate = 1u << 13,
  kFlagNoMandatoryKeys = 1u << 14,
  kFlagNoMulti = 1u << 15,
  kFlagMovableKeys = 1u << 16,
  kFlagAllowBusy = 1u << 17,
};

// One key specification (Redis 7 "key specs"): where the search for keys
// begins and how keys are found from there.
struct KeySpec {
  enum class Begin : uint8_t { kIndex, kKeyword, kUnknown };
  enum class Find : uint8_t { kRange, kKeynum, kUnknown };

  Begin begin;
  int index;                 // Begin::kIndex: argv index of the first key
  std::string_view keyword;  // Begin::kKeyword: e.g. "STREAMS" (upper case)
  int startfrom;             // Begin::kKeyword: argv index to start searching;
                             // negative counts from the end, searching backwards
  Find find;
  int lastkey;      // Find::kRange: relative to the first key; -1 means the last arg
  int keystep;      // Find::kRange
  int limit;        // Find::kRange: 0 = no limit; N>1 = only 1/N of the remaining args
  int keynumidx;    // Find::kKeynum: relative index of the argument holding the count
  int firstkey;     // Find::kKeynum: relative index of the first key
  int step;         // Find::kKeynum
  bool incomplete;  // the spec's INCOMPLETE flag: other keys may exist
};

struct CommandSpec {
  std::string_view name;  // lower case; "container|sub" for subcommands
  int arity;              // Redis arity: N exact, -N at least N (argv incl. name)
  uint32_t flags;         // CommandFlag bits
  std::span<const KeySpec> key_specs;
  std::span<const CommandSpec> subcommands;  // non-empty for containers (CONFIG, OBJECT, ...)

  bool Has(CommandFlag f) const { return (flags & f) != 0; }
  bool IsContainer() const { return !subcommands.empty(); }
};

class CommandTable {
 public:
  static const CommandTable& Instance();

  // Case-insensitive lookup of a top-level command; nullptr if unknown.
  const CommandSpec* Find(std::string_view name) const;
  // Case-insensitive lookup of a subcommand of a container; nullptr if unknown.
  const CommandSpec* FindSubcommand(const CommandSpec& container, std::string_view sub) const;
  // Resolves argv to the most specific spec: the subcommand for a container
  // whose argv[1] names one, else the top-level command. nullptr if argv[0] is
  // unknown. A container with an unknown or missing subcommand returns the
  // container itself.
  const CommandSpec* Resolve(std::span<const std::string_view> argv) const;

  std::span<const CommandSpec> commands() const;

 private:
  CommandTable();

  // Open-addressing hash index over the lower-case names of commands(): a
  // lookup lower-cases and hashes the name in one pass, then compares once.
  static constexpr size_t kIndexSize = 1024;  // a power of two, > 4x the commands
  const CommandSpec* index_[kIndexSize] = {};
};

// Whether argv's length satisfies spec.arity.
bool ArityOk(const CommandSpec& spec, size_t argc);

enum class KeyExtraction {
  kOk,         // *keys holds the argv index of every key, in argv order
  kMalformed,  // the arguments do not fit the key specs (e.g. a bad numkeys);
               // the proxy lets a backend produce Redis's exact error
};

// Appends the argv indexes of all keys of the command to *keys (cleared first),
// following its key specs, plus the special cases whose specs are "unknown"
// (SORT/SORT_RO STORE destination; MIGRATE's KEYS list). Allocates only when
// *keys must grow, so a reused vector makes the hot path allocation-free.
KeyExtraction ExtractKeys(const CommandSpec& spec, std::span<const std::string_view> argv,
                          std::vector<uint32_t>* keys);

// The one slot of the keys at argv[keys[i]]: -1 when there are none, -2
// when they do not all hash to one slot (a -CROSSSLOT request).
int CommonSlot(std::span<const std::string_view> argv, std::span<const uint32_t> keys);

}  // namespace redkube::proxy
