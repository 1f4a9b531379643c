#include "proxy/command_stats.h"

#include <unordered_map>

namespace redkube::proxy {
namespace {

const std::unordered_map<const CommandSpec*, uint16_t>& IndexBySpec() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<const CommandSpec*, uint16_t>();
    for (const CommandSpec* s : CommandIndex::Instance().specs()) {
      m->emplace(s, static_cast<uint16_t>(m->size()));
    }
    return m;
  }();
  return *map;
}

}  // namespace

const CommandIndex& CommandIndex::Instance() {
  static const CommandIndex* index = new CommandIndex();
  return *index;
}

CommandIndex::CommandIndex() {
  for (const auto& c : CommandTable::Instance().commands()) {
    specs_.push_back(&c);
    for (const auto& sub : c.subcommands) specs_.push_back(&sub);
  }
}

uint16_t CommandIndex::Of(const CommandSpec& spec) const { return IndexBySpec().at(&spec); }

}  // namespace redkube::proxy
