#include "proxy/command_table.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/slot.h"
#include "core/strings.h"

namespace redkube::proxy {
namespace {

#include "proxy/command_table_data.inc"

// Longest command name Redis 7.0 has is well under this; longer input cannot
// name a command.
constexpr size_t kMaxNameLength = 64;

// FNV-1a over the lower-cased name; *lower receives the lower-cased bytes.
// Returns false if the name is too long to be a command.
bool HashLower(std::string_view in, char* lower, uint32_t* hash) {
  if (in.size() > kMaxNameLength) return false;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    lower[i] = c;
    h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  *hash = h;
  return true;
}

// SORT's STORE destination: its key spec is "unknown" because the options
// must be parsed. Mirrors Redis's sortGetKeys: the last STORE wins.
void AppendSortStoreKey(std::span<const std::string_view> argv, std::vector<uint32_t>* keys) {
  int store = -1;
  for (size_t i = 2; i < argv.size(); ++i) {
    std::string_view a = argv[i];
    if (EqualsIgnoreCase(a, "limit")) {
      i += 2;
    } else if (EqualsIgnoreCase(a, "get") || EqualsIgnoreCase(a, "by")) {
      i += 1;
    } else if (EqualsIgnoreCase(a, "store") && i + 1 < argv.size()) {
      store = static_cast<int>(i + 1);
      i += 1;
    }
  }
  if (store >= 0) keys->push_back(static_cast<uint32_t>(store));
}

}  // namespace

const CommandTable& CommandTable::Instance() {
  static const CommandTable table;
  return table;
}

CommandTable::CommandTable() {
  char lower[kMaxNameLength];
  for (const CommandSpec& spec : kAllCommands) {
    uint32_t hash = 0;
    HashLower(spec.name, lower, &hash);
    size_t i = hash & (kIndexSize - 1);
    while (index_[i] != nullptr) i = (i + 1) & (kIndexSize - 1);
    index_[i] = &spec;
  }
}

std::span<const CommandSpec> CommandTable::commands() const { return kAllCommands; }

const CommandSpec* CommandTable::Find(std::string_view name) const {
  char lower[kMaxNameLength];
  uint32_t hash = 0;
  if (!HashLower(name, lower, &hash)) return nullptr;
  for (size_t i = hash & (kIndexSize - 1);; i = (i + 1) & (kIndexSize - 1)) {
    const CommandSpec* spec = index_[i];
    if (spec == nullptr) return nullptr;
    if (spec->name.size() == name.size() && memcmp(spec->name.data(), lower, name.size()) == 0) {
      return spec;
    }
  }
}

const CommandSpec* CommandTable::FindSubcommand(const CommandSpec& container, std::string_view sub) const {
  for (const CommandSpec& s : container.subcommands) {
    std::string_view suffix = s.name.substr(s.name.find('|') + 1);
    if (EqualsIgnoreCase(suffix, sub)) return &s;
  }
  return nullptr;
}

const CommandSpec* CommandTable::Resolve(std::span<const std::string_view> argv) const {
  if (argv.empty()) return nullptr;
  const CommandSpec* spec = Find(argv[0]);
  if (spec == nullptr || !spec->IsContainer() || argv.size() < 2) return spec;
  const CommandSpec* sub = FindSubcommand(*spec, argv[1]);
  return sub != nullptr ? sub : spec;
}

bool ArityOk(const CommandSpec& spec, size_t argc) {
  if (spec.arity >= 0) return argc == static_cast<size_t>(spec.arity);
  return argc >= static_cast<size_t>(-spec.arity);
}

// Follows Redis's getKeysUsingKeySpecs (db.c): for each spec, find where the
// keys begin, then which arguments are keys. Where Redis would let the command
// itself report a syntax error, we report kMalformed.
KeyExtraction ExtractKeys(const CommandSpec& spec, std::span<const std::string_view> argv,
                          std::vector<uint32_t>* keys) {
  keys->clear();
  const long long argc = static_cast<long long>(argv.size());
  for (const KeySpec& ks : spec.key_specs) {
    long long first = 0;
    switch (ks.begin) {
      case KeySpec::Begin::kIndex:
        first = ks.index;
        break;
      case KeySpec::Begin::kKeyword: {
        long long start = ks.startfrom > 0 ? ks.startfrom : argc + ks.startfrom;
        long long end = ks.startfrom > 0 ? argc - 1 : 0;
        for (long long i = start; i != end; i = start <= end ? i + 1 : i - 1) {
          if (i >= argc || i < 1) break;
          if (EqualsIgnoreCase(argv[i], ks.keyword)) {
            first = i + 1;
            break;
          }
        }
        if (first == 0) continue;  // keyword absent: this spec has no keys
        break;
      }
      case KeySpec::Begin::kUnknown:
        continue;
    }

    long long last = 0;
    long long step = 1;
    switch (ks.find) {
      case KeySpec::Find::kRange:
        if (ks.lastkey >= 0) {
          last = first + ks.lastkey;
        } else if (ks.limit == 0) {
          last = argc + ks.lastkey;
        } else {
          last = first + ((argc - first) / ks.limit + ks.lastkey);
        }
        step = ks.keystep;
        break;
      case KeySpec::Find::kKeynum: {
        long long count_at = first + ks.keynumidx;
        // A count Redis would refuse ("01", "+1") is malformed here too:
        // any server then answers with Redis's own error.
        std::optional<int64_t> numkeys;
        if (count_at < argc) numkeys = ParseInt64(argv[count_at]);
        if (!numkeys || *numkeys < 0 || *numkeys > argc) return KeyExtraction::kMalformed;
        first += ks.firstkey;
        last = first + *numkeys - 1;
        step = ks.step;
        break;
      }
      case KeySpec::Find::kUnknown:
        continue;
    }
    if (step <= 0) return KeyExtraction::kMalformed;
    for (long long i = first; i <= last; i += step) {
      if (i >= argc || i < 1) return KeyExtraction::kMalformed;
      keys->push_back(static_cast<uint32_t>(i));
    }
  }
  if (spec.name == "sort") AppendSortStoreKey(argv, keys);
  std::sort(keys->begin(), keys->end());
  keys->erase(std::unique(keys->begin(), keys->end()), keys->end());
  return KeyExtraction::kOk;
}

int CommonSlot(std::span<const std::string_view> argv, std::span<const uint32_t> keys) {
  if (keys.empty()) return -1;
  const int slot = KeySlot(argv[keys[0]]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (KeySlot(argv[keys[i]]) != slot) return -2;
  }
  return slot;
}

}  // namespace redkube::proxy
