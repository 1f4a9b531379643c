#include "proxy/admin_replies.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "core/reply_scanner.h"
#include "proxy/resp_forms.h"

namespace redkube::proxy {
namespace {

const char kUnexpected[] = "-ERR redkube: unexpected reply from a backend\r\n";

// redis-server keeps this many samples per latency event.
constexpr size_t kLatencyHistoryLen = 160;

bool ParseDouble(std::string_view s, double* d) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *d);
  return ec == std::errc() && end == s.data() + s.size();
}

// Bulk text of a bulk, simple or RESP3 verbatim ("=len\r\ntxt:...") reply.
bool TextOf(std::string_view reply, std::string_view* text) {
  if (ParseStringReply(reply, text)) return true;
  if (!reply.starts_with('=')) return false;
  size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos || reply.size() < eol + 2 + 4 + 2) return false;
  *text = reply.substr(eol + 2 + 4, reply.size() - (eol + 2 + 4) - 2);
  return true;
}

// One name -> value pair list (MEMORY STATS, its db.N entries) being summed.
struct StatValue {
  enum Type { kInteger, kDecimal, kNested, kOther } type = kOther;
  int64_t integer = 0;
  double decimal = 0;
  std::vector<std::pair<std::string, int64_t>> nested;
  std::string other;  // first master's bytes, for anything else
};

void AddNested(std::string_view reply, StatValue* v) {
  std::vector<std::string_view> items;
  SplitAggregate(reply, &items);
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    std::string_view name;
    int64_t n = 0;
    if (!ParseStringReply(items[i], &name) || !ParseIntegerReply(items[i + 1], &n)) continue;
    auto it =
        std::find_if(v->nested.begin(), v->nested.end(), [&](const auto& e) { return e.first == name; });
    if (it == v->nested.end()) {
      v->nested.emplace_back(std::string(name), n);
    } else {
      it->second += n;
    }
  }
}

}  // namespace

void MergeLatencyLatest(std::span<const std::string> parts, const ReplyMerger&, std::string* out) {
  struct Event {
    std::string name;
    int64_t time = 0, latest = 0, max = 0;
  };
  std::vector<Event> events;
  std::vector<std::string_view> rows, cells;
  for (const auto& p : parts) {
    if (!SplitArray(p, &rows)) {
      out->assign(kUnexpected);
      return;
    }
    for (auto row : rows) {
      std::string_view name;
      int64_t time = 0, latest = 0, max = 0;
      if (!SplitArray(row, &cells) || cells.size() < 4 || !ParseStringReply(cells[0], &name) ||
          !ParseIntegerReply(cells[1], &time) || !ParseIntegerReply(cells[2], &latest) ||
          !ParseIntegerReply(cells[3], &max)) {
        out->assign(kUnexpected);
        return;
      }
      auto it = std::find_if(events.begin(), events.end(), [&](const Event& e) { return e.name == name; });
      if (it == events.end()) {
        events.push_back(Event{std::string(name), time, latest, max});
      } else {
        it->time = std::max(it->time, time);
        it->latest = std::max(it->latest, latest);
        it->max = std::max(it->max, max);
      }
    }
  }
  AppendArrayHeader(out, static_cast<int64_t>(events.size()));
  for (const auto& e : events) {
    AppendArrayHeader(out, 4);
    AppendBulk(out, e.name);
    AppendInteger(out, e.time);
    AppendInteger(out, e.latest);
    AppendInteger(out, e.max);
  }
}

void MergeLatencyHistory(std::span<const std::string> parts, const ReplyMerger&, std::string* out) {
  std::map<int64_t, int64_t> samples;  // time -> the largest latency then
  std::vector<std::string_view> rows, cells;
  for (const auto& p : parts) {
    if (!SplitArray(p, &rows)) {
      out->assign(kUnexpected);
      return;
    }
    for (auto row : rows) {
      int64_t time = 0, ms = 0;
      if (!SplitArray(row, &cells) || cells.size() != 2 || !ParseIntegerReply(cells[0], &time) ||
          !ParseIntegerReply(cells[1], &ms)) {
        out->assign(kUnexpected);
        return;
      }
      int64_t& at = samples[time];
      at = std::max(at, ms);
    }
  }
  while (samples.size() > kLatencyHistoryLen) samples.erase(samples.begin());
  AppendArrayHeader(out, static_cast<int64_t>(samples.size()));
  for (const auto& [time, ms] : samples) {
    AppendArrayHeader(out, 2);
    AppendInteger(out, time);
    AppendInteger(out, ms);
  }
}

// RESP3: the parts came from RESP3 connections (a RESP3 client's), so a
// verbatim part means the client wants verbatim text, as redis-server gives it.
void MergeLabelledText(std::span<const std::string> parts, const ReplyMerger& m, std::string* out) {
  std::string text;
  int resp = 2;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].starts_with('=')) resp = 3;
    std::string_view part;
    if (!TextOf(parts[i], &part)) {
      out->assign(kUnexpected);
      return;
    }
    text +=
        fmt::format("--- shard {} ---\n", i < m.part_labels.size() ? m.part_labels[i] : std::to_string(i));
    text.append(part);
    if (!part.ends_with('\n')) text += '\n';
  }
  AppendText(out, text, resp);
}

// A RESP3 client's parts are maps (db.N's entries too) with doubles (`,`);
// the merge answers in the form its parts came in.
void MergeMemoryStats(std::span<const std::string> parts, const ReplyMerger&, std::string* out) {
  std::vector<std::pair<std::string, StatValue>> stats;
  std::vector<std::string_view> items;
  int resp = 2;
  for (const auto& p : parts) {
    if (p.starts_with('%')) resp = 3;
    if (!SplitAggregate(p, &items) || items.size() % 2 != 0) {
      out->assign(kUnexpected);
      return;
    }
    for (size_t i = 0; i < items.size(); i += 2) {
      std::string_view name, text;
      if (!ParseStringReply(items[i], &name)) {
        out->assign(kUnexpected);
        return;
      }
      auto it = std::find_if(stats.begin(), stats.end(), [&](const auto& s) { return s.first == name; });
      const bool first = it == stats.end();
      if (first) {
        stats.emplace_back(std::string(name), StatValue{});
        it = stats.end() - 1;
      }
      StatValue& v = it->second;
      std::string_view value = items[i + 1];
      int64_t n;
      double d;
      if (ParseIntegerReply(value, &n)) {
        if (first) v.type = StatValue::kInteger;
        v.integer += n;
      } else if (value.starts_with('*') || value.starts_with('%')) {
        if (first) v.type = StatValue::kNested;
        AddNested(value, &v);
      } else if ((ParseStringReply(value, &text) && ParseDouble(text, &d)) ||
                 (value.starts_with(',') && ParseDouble(value.substr(1, value.size() - 3), &d))) {
        if (first) v.type = StatValue::kDecimal;
        v.decimal = first ? d : std::max(v.decimal, d);
      } else if (first) {
        v.other.assign(value);
      }
    }
  }
  auto integer = [&](std::string_view name) -> double {
    for (const auto& [n, v] : stats) {
      if (n == name) return static_cast<double>(v.integer);
    }
    return 0;
  };
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  const double net = std::max(1.0, integer("total.allocated") - integer("startup.allocated"));
  for (auto& [name, v] : stats) {
    if (name == "keys.bytes-per-key") {
      v.integer = integer("keys.count") > 0 ? static_cast<int64_t>(net / integer("keys.count")) : 0;
    } else if (name == "dataset.percentage") {
      v.decimal = integer("dataset.bytes") * 100 / net;
    } else if (name == "peak.percentage") {
      v.decimal = ratio(integer("total.allocated") * 100, integer("peak.allocated"));
    } else if (name == "allocator-fragmentation.ratio") {
      v.decimal = ratio(integer("allocator.active"), integer("allocator.allocated"));
    } else if (name == "allocator-rss.ratio") {
      v.decimal = ratio(integer("allocator.resident"), integer("allocator.active"));
    } else if (name == "rss-overhead.ratio") {
      v.decimal =
          ratio(integer("allocator.resident") + integer("rss-overhead.bytes"), integer("allocator.resident"));
    } else if (name == "fragmentation") {
      v.decimal =
          ratio(integer("total.allocated") + integer("fragmentation.bytes"), integer("total.allocated"));
    }
  }
  AppendMapHeader(out, static_cast<int64_t>(stats.size()), resp);
  for (const auto& [name, v] : stats) {
    AppendBulk(out, name);
    switch (v.type) {
      case StatValue::kInteger:
        AppendInteger(out, v.integer);
        break;
      case StatValue::kDecimal:
        // redis-server 7.0's double: "%.17g", a bulk string in RESP2.
        if (resp == 3) {
          out->append(fmt::format(",{:.17g}\r\n", v.decimal));
        } else {
          AppendBulk(out, fmt::format("{:.17g}", v.decimal));
        }
        break;
      case StatValue::kNested:
        AppendMapHeader(out, static_cast<int64_t>(v.nested.size()), resp);
        for (const auto& [n, x] : v.nested) {
          AppendBulk(out, n);
          AppendInteger(out, x);
        }
        break;
      case StatValue::kOther:
        out->append(v.other.empty() ? NilReply(resp) : std::string_view(v.other));
        break;
    }
  }
}

}  // namespace redkube::proxy
