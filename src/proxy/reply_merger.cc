#include "proxy/reply_merger.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <random>

#include "core/reply_scanner.h"
#include "proxy/config_commands.h"
#include "proxy/scan_cursor.h"

namespace redkube::proxy {
namespace {

const char kProtocolMismatch[] = "-ERR redkube: unexpected reply from a backend\r\n";

// *sum += v, false if that overflows: a sum of real counts never does, so
// a backend that sends such numbers gets the protocol-mismatch error.
bool AddChecked(int64_t* sum, int64_t v) { return !__builtin_add_overflow(*sum, v, sum); }

// RESP3: a RESP3 client's parts come from servers that speak RESP3 to it
// (BackendPool), so each merge reads the RESP3 forms of its parts too and
// answers in the form the parts came in: `_` for nil, `%` maps (pairs),
// `=` verbatim text. No flag is needed: the parts tell.

bool IsNil(std::string_view reply) { return reply == "$-1\r\n" || reply == "_\r\n"; }

// A bulk, simple or verbatim string's text (a verbatim one without its
// "txt:" format); *verbatim tells which.
bool ParseText(std::string_view reply, std::string_view* text, bool* verbatim) {
  *verbatim = !reply.empty() && reply[0] == '=';
  if (!*verbatim) return ParseStringReply(reply, text);
  std::string bulk(reply);
  bulk[0] = '$';
  std::string_view body;
  if (!ParseStringReply(bulk, &body) || body.size() < 4) return false;
  *text = reply.substr(static_cast<size_t>(body.data() - bulk.data()) + 4, body.size() - 4);
  return true;
}

}  // namespace

void ReplyMerger::Reset(Kind kind, uint32_t parts) {
  kind_ = kind;
  if (parts_.size() < parts) parts_.resize(parts);
  for (uint32_t i = 0; i < parts; ++i) parts_[i].clear();
  parts_.resize(parts);
  positions.clear();
  info_prefix.clear();
  info_selection = InfoSelection();
  custom = nullptr;
  part_labels.clear();
}

void ReplyMerger::SetPart(uint32_t part, std::string_view reply) {
  if (part < parts_.size()) parts_[part].assign(reply);
}

const ReplyMerger::MergeFunction ReplyMerger::kMerge[kKinds] = {
    // In Kind's order.
    &ReplyMerger::MergeMget,      &ReplyMerger::MergeAllOk, &ReplyMerger::MergeSum,
    &ReplyMerger::MergeConcat,    &ReplyMerger::MergeFirst, &ReplyMerger::MergeAnd,
    &ReplyMerger::MergeRandom,    &ReplyMerger::MergeScan,  &ReplyMerger::MergeInfo,
    &ReplyMerger::MergeSumPairs,  &ReplyMerger::MergeMin,   &ReplyMerger::MergeCustom,
    &ReplyMerger::MergeConfigGet,
};
static_assert(static_cast<int>(ReplyMerger::Kind::kMgetByPosition) == 0 &&
              static_cast<int>(ReplyMerger::Kind::kScanCursor) == 7 &&
              static_cast<int>(ReplyMerger::Kind::kMinInteger) == 10 &&
              static_cast<int>(ReplyMerger::Kind::kCustom) == 11 &&
              static_cast<int>(ReplyMerger::Kind::kConfigGet) == 12);

void ReplyMerger::Finish(std::string* out) {
  out->clear();
  for (const auto& p : parts_) {
    if (IsErrorReply(p)) {
      out->assign(p);
      return;
    }
  }
  kMerge[static_cast<int>(kind_)](*this, out);
}

void ReplyMerger::MergeMget(ReplyMerger& m, std::string* out) {
  if (m.split_.size() < m.parts_.size()) m.split_.resize(m.parts_.size());
  for (size_t i = 0; i < m.parts_.size(); ++i) {
    if (!SplitAggregate(m.parts_[i], &m.split_[i])) {
      out->assign(kProtocolMismatch);
      return;
    }
  }
  AppendArrayHeader(out, static_cast<int64_t>(m.positions.size()));
  for (const auto& [part, index] : m.positions) {
    if (index >= m.split_[part].size()) {
      out->assign(kProtocolMismatch);
      return;
    }
    out->append(m.split_[part][index]);
  }
}

void ReplyMerger::MergeConfigGet(ReplyMerger& m, std::string* out) { MergeConfigGetReplies(m.parts_, out); }

void ReplyMerger::MergeAllOk(ReplyMerger&, std::string* out) { out->assign("+OK\r\n"); }

void ReplyMerger::MergeSum(ReplyMerger& m, std::string* out) {
  int64_t sum = 0;
  for (const auto& p : m.parts_) {
    int64_t v;
    if (!ParseIntegerReply(p, &v) || !AddChecked(&sum, v)) {
      out->assign(kProtocolMismatch);
      return;
    }
  }
  AppendInteger(out, sum);
}

void ReplyMerger::MergeMin(ReplyMerger& m, std::string* out) {
  int64_t least = INT64_MAX;
  for (const auto& p : m.parts_) {
    int64_t v;
    if (!ParseIntegerReply(p, &v)) {
      out->assign(kProtocolMismatch);
      return;
    }
    least = std::min(least, v);
  }
  AppendInteger(out, m.parts_.empty() ? 0 : least);
}

void ReplyMerger::MergeConcat(ReplyMerger& m, std::string* out) {
  int64_t count = 0;
  for (const auto& p : m.parts_) {
    if (!SplitAggregate(p, &m.elements_)) {
      out->assign(kProtocolMismatch);
      return;
    }
    count += static_cast<int64_t>(m.elements_.size());
  }
  AppendArrayHeader(out, count);
  for (const auto& p : m.parts_) {
    SplitAggregate(p, &m.elements_);
    for (auto e : m.elements_) out->append(e);
  }
}

void ReplyMerger::MergeFirst(ReplyMerger& m, std::string* out) {
  out->assign(m.parts_.empty() ? std::string_view("+OK\r\n") : std::string_view(m.parts_[0]));
}

void ReplyMerger::MergeAnd(ReplyMerger& m, std::string* out) {
  std::vector<bool> all;
  for (size_t i = 0; i < m.parts_.size(); ++i) {
    if (!SplitAggregate(m.parts_[i], &m.elements_)) {
      out->assign(kProtocolMismatch);
      return;
    }
    if (i == 0) all.assign(m.elements_.size(), true);
    for (size_t j = 0; j < m.elements_.size() && j < all.size(); ++j) {
      if (m.elements_[j] != ":1\r\n") all[j] = false;
    }
  }
  AppendArrayHeader(out, static_cast<int64_t>(all.size()));
  for (bool b : all) out->append(b ? ":1\r\n" : ":0\r\n");
}

void ReplyMerger::MergeSumPairs(ReplyMerger& m, std::string* out) {
  std::vector<std::string_view> names;
  std::vector<int64_t> sums;
  bool as_map = false;
  for (size_t i = 0; i < m.parts_.size(); ++i) {
    as_map |= m.parts_[i].starts_with('%');
    if (!SplitAggregate(m.parts_[i], &m.elements_) || m.elements_.size() % 2 != 0 ||
        (i > 0 && m.elements_.size() != 2 * names.size())) {
      out->assign(kProtocolMismatch);
      return;
    }
    for (size_t j = 0; j < m.elements_.size(); j += 2) {
      int64_t v;
      if (!ParseIntegerReply(m.elements_[j + 1], &v)) {
        out->assign(kProtocolMismatch);
        return;
      }
      if (i == 0) {
        names.push_back(m.elements_[j]);
        sums.push_back(v);
      } else if (!AddChecked(&sums[j / 2], v)) {
        out->assign(kProtocolMismatch);
        return;
      }
    }
  }
  if (as_map) {
    out->append("%").append(std::to_string(names.size())).append("\r\n");
  } else {
    AppendArrayHeader(out, static_cast<int64_t>(2 * names.size()));
  }
  for (size_t j = 0; j < names.size(); ++j) {
    out->append(names[j]);
    AppendInteger(out, sums[j]);
  }
}

void ReplyMerger::MergeRandom(ReplyMerger& m, std::string* out) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < m.parts_.size(); ++i) {
    if (!IsNil(m.parts_[i])) candidates.push_back(i);
  }
  if (candidates.empty()) {
    out->assign(!m.parts_.empty() && m.parts_[0] == "_\r\n" ? "_\r\n" : "$-1\r\n");
    return;
  }
  static thread_local std::minstd_rand rng(std::random_device{}());
  out->assign(m.parts_[candidates[rng() % candidates.size()]]);
}

void ReplyMerger::MergeScan(ReplyMerger& m, std::string* out) {
  std::string_view cursor_text;
  uint64_t backend_cursor = 0;
  if (m.parts_.size() != 1 || !SplitArray(m.parts_[0], &m.elements_) || m.elements_.size() != 2 ||
      !ParseStringReply(m.elements_[0], &cursor_text) ||
      std::from_chars(cursor_text.data(), cursor_text.data() + cursor_text.size(), backend_cursor).ec !=
          std::errc() ||
      !ScanCursor::Fits(backend_cursor)) {
    out->assign(kProtocolMismatch);
    return;
  }
  ScanCursor next;
  if (backend_cursor != 0) {
    next = ScanCursor{backend_cursor, m.scan_position, m.scan_tag};
  } else if (m.scan_position + 1 < m.scan_positions) {
    next = ScanCursor{0, m.scan_position + 1, m.scan_tag};  // the next shard, from its start
  }
  AppendArrayHeader(out, 2);
  AppendBulk(out, std::to_string(next.Encode()));
  out->append(m.elements_[1]);
}

void ReplyMerger::MergeInfo(ReplyMerger& m, std::string* out) {
  std::vector<std::string_view> texts;
  bool verbatim_parts = false;
  for (const auto& p : m.parts_) {
    std::string_view text;
    bool verbatim = false;
    if (ParseText(p, &text, &verbatim)) {
      texts.push_back(text);
      verbatim_parts |= verbatim;
    }
  }
  std::string body = ::redkube::proxy::MergeInfo(m.info_selection, m.info_prefix, texts);
  if (verbatim_parts) {  // a RESP3 client's: verbatim, as redis-server answers it
    out->append("=").append(std::to_string(body.size() + 4)).append("\r\ntxt:").append(body).append("\r\n");
  } else {
    AppendBulk(out, body);
  }
}

void ReplyMerger::MergeCustom(ReplyMerger& m, std::string* out) {
  if (m.custom == nullptr) {
    out->assign(kProtocolMismatch);
    return;
  }
  m.custom(m.parts_, m, out);
}

}  // namespace redkube::proxy
