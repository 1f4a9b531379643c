#include "proxy/reply_merger.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <random>

#include "core/reply_scanner.h"

namespace redkube::proxy {
namespace {

const char kProtocolMismatch[] = "-ERR redkube: unexpected reply from a backend\r\n";

// *sum += v, false if that overflows: a sum of real counts never does, so
// a backend that sends such numbers gets the protocol-mismatch error.
bool AddChecked(int64_t* sum, int64_t v) { return !__builtin_add_overflow(*sum, v, sum); }

// Parses "key=value,key=value" from one INFO keyspace line into *fields.
void AddKeyspaceLine(std::string_view line, std::map<std::string, std::map<std::string, int64_t>>* dbs,
                     std::vector<std::string>* order) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string db(line.substr(0, colon));
  if (!dbs->count(db)) order->push_back(db);
  auto& fields = (*dbs)[db];
  std::string_view rest = line.substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view field = rest.substr(0, comma);
    size_t eq = field.find('=');
    if (eq != std::string_view::npos) {
      int64_t v = 0;
      std::from_chars(field.data() + eq + 1, field.data() + field.size(), v);
      int64_t& total = fields[std::string(field.substr(0, eq))];
      if (!AddChecked(&total, v)) total = INT64_MAX;  // INFO text: saturate
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
}

}  // namespace

void ReplyMerger::Reset(Kind kind, uint32_t parts) {
  kind_ = kind;
  if (parts_.size() < parts) parts_.resize(parts);
  for (uint32_t i = 0; i < parts; ++i) parts_[i].clear();
  parts_.resize(parts);
  positions.clear();
  info_prefix.clear();
  info_server = false;
  info_keyspace = false;
}

void ReplyMerger::SetPart(uint32_t part, std::string_view reply) {
  if (part < parts_.size()) parts_[part].assign(reply);
}

void ReplyMerger::Finish(std::string* out) {
  out->clear();
  for (const auto& p : parts_) {
    if (IsErrorReply(p)) {
      out->assign(p);
      return;
    }
  }
  switch (kind_) {
    case Kind::kMgetByPosition: {
      std::vector<std::vector<std::string_view>> split(parts_.size());
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (!SplitArray(parts_[i], &split[i])) {
          out->assign(kProtocolMismatch);
          return;
        }
      }
      AppendArrayHeader(out, static_cast<int64_t>(positions.size()));
      for (const auto& [part, index] : positions) {
        if (index >= split[part].size()) {
          out->assign(kProtocolMismatch);
          return;
        }
        out->append(split[part][index]);
      }
      return;
    }
    case Kind::kAllOk:
      out->assign("+OK\r\n");
      return;
    case Kind::kSumIntegers: {
      int64_t sum = 0;
      for (const auto& p : parts_) {
        int64_t v;
        if (!ParseIntegerReply(p, &v)) {
          out->assign(kProtocolMismatch);
          return;
        }
        if (!AddChecked(&sum, v)) {
          out->assign(kProtocolMismatch);
          return;
        }
      }
      AppendInteger(out, sum);
      return;
    }
    case Kind::kMinInteger: {
      int64_t least = INT64_MAX;
      for (const auto& p : parts_) {
        int64_t v;
        if (!ParseIntegerReply(p, &v)) {
          out->assign(kProtocolMismatch);
          return;
        }
        least = std::min(least, v);
      }
      AppendInteger(out, parts_.empty() ? 0 : least);
      return;
    }
    case Kind::kConcatArrays: {
      std::string body;
      int64_t count = 0;
      for (const auto& p : parts_) {
        if (!SplitArray(p, &elements_)) {
          out->assign(kProtocolMismatch);
          return;
        }
        for (auto e : elements_) body.append(e);
        count += static_cast<int64_t>(elements_.size());
      }
      AppendArrayHeader(out, count);
      out->append(body);
      return;
    }
    case Kind::kFirstReply:
      out->assign(parts_.empty() ? std::string("+OK\r\n") : parts_[0]);
      return;
    case Kind::kAndArrays: {
      std::vector<bool> all;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (!SplitArray(parts_[i], &elements_)) {
          out->assign(kProtocolMismatch);
          return;
        }
        if (i == 0) all.assign(elements_.size(), true);
        for (size_t j = 0; j < elements_.size() && j < all.size(); ++j) {
          if (elements_[j] != ":1\r\n") all[j] = false;
        }
      }
      AppendArrayHeader(out, static_cast<int64_t>(all.size()));
      for (bool b : all) out->append(b ? ":1\r\n" : ":0\r\n");
      return;
    }
    case Kind::kSumPairs: {
      std::vector<std::string_view> names;
      std::vector<int64_t> sums;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (!SplitArray(parts_[i], &elements_) || elements_.size() % 2 != 0 ||
            (i > 0 && elements_.size() != 2 * names.size())) {
          out->assign(kProtocolMismatch);
          return;
        }
        for (size_t j = 0; j < elements_.size(); j += 2) {
          int64_t v;
          if (!ParseIntegerReply(elements_[j + 1], &v)) {
            out->assign(kProtocolMismatch);
            return;
          }
          if (i == 0) {
            names.push_back(elements_[j]);
            sums.push_back(v);
          } else if (!AddChecked(&sums[j / 2], v)) {
            out->assign(kProtocolMismatch);
            return;
          }
        }
      }
      AppendArrayHeader(out, static_cast<int64_t>(2 * names.size()));
      for (size_t j = 0; j < names.size(); ++j) {
        out->append(names[j]);
        AppendInteger(out, sums[j]);
      }
      return;
    }
    case Kind::kRandomNonNil: {
      std::vector<size_t> candidates;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (parts_[i] != "$-1\r\n") candidates.push_back(i);
      }
      if (candidates.empty()) {
        out->assign("$-1\r\n");
        return;
      }
      static thread_local std::minstd_rand rng(std::random_device{}());
      out->assign(parts_[candidates[rng() % candidates.size()]]);
      return;
    }
    case Kind::kScanCursor:
      FinishScan(out);
      return;
    case Kind::kInfo:
      FinishInfo(out);
      return;
  }
}

void ReplyMerger::FinishScan(std::string* out) {
  std::string_view cursor_text;
  if (parts_.size() != 1 || !SplitArray(parts_[0], &elements_) || elements_.size() != 2 ||
      !ParseStringReply(elements_[0], &cursor_text)) {
    out->assign(kProtocolMismatch);
    return;
  }
  uint64_t backend_cursor = 0;
  std::from_chars(cursor_text.data(), cursor_text.data() + cursor_text.size(), backend_cursor);
  uint64_t cursor = 0;
  if (backend_cursor != 0) {
    cursor = backend_cursor * kScanShardSlots + scan_shard;
  } else if (scan_shard + 1 < scan_shard_count) {
    cursor = scan_shard + 1;  // the next shard, from its start
  }
  AppendArrayHeader(out, 2);
  AppendBulk(out, std::to_string(cursor));
  out->append(elements_[1]);
}

void ReplyMerger::FinishInfo(std::string* out) {
  std::map<std::string, std::map<std::string, int64_t>> dbs;
  std::vector<std::string> order;
  std::string server_section;
  for (size_t i = 0; i < parts_.size(); ++i) {
    std::string_view text;
    if (!ParseStringReply(parts_[i], &text)) continue;
    bool in_server = false;
    while (!text.empty()) {
      size_t eol = text.find("\r\n");
      std::string_view line = text.substr(0, eol);
      if (line.starts_with("# ")) in_server = line == "# Server";
      if (in_server && i == 0 && !line.empty()) {
        server_section.append(line).append("\r\n");
      } else if (line.starts_with("db")) {
        AddKeyspaceLine(line, &dbs, &order);
      }
      if (eol == std::string_view::npos) break;
      text = text.substr(eol + 2);
    }
  }
  std::string body = info_prefix;
  if (info_server && !server_section.empty()) body += server_section + "\r\n";
  if (info_keyspace) {
    body += "# Keyspace\r\n";
    for (const auto& db : order) {
      const auto& f = dbs[db];
      int64_t keys = f.count("keys") ? f.at("keys") : 0;
      int64_t expires = f.count("expires") ? f.at("expires") : 0;
      // avg_ttl is an average: the sum over shards means nothing, report the mean.
      int64_t avg_ttl =
          f.count("avg_ttl") ? f.at("avg_ttl") / static_cast<int64_t>(parts_.size()) : 0;
      body += fmt::format("{}:keys={},expires={},avg_ttl={}\r\n", db, keys, expires, avg_ttl);
    }
  }
  while (body.ends_with("\r\n\r\n")) body.resize(body.size() - 2);
  AppendBulk(out, body);
}

}  // namespace redkube::proxy
