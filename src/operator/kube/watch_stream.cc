#include "operator/kube/watch_stream.h"

#include <fmt/format.h>

namespace redkube::kube {

std::string WatchEvent::ResourceVersion() const {
  if (type == WatchEventType::kError) return "";
  const auto* meta = object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  if (meta == nullptr || !meta->is_object()) return "";
  auto it = meta->find("resourceVersion");
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

Result<WatchEvent> ParseWatchEvent(std::string_view line) {
  nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Status::Error(fmt::format("watch: not a JSON object: {}", line.substr(0, 200)));
  }
  auto type = doc.find("type");
  auto object = doc.find("object");
  if (type == doc.end() || !type->is_string() || object == doc.end() || !object->is_object()) {
    return Status::Error(fmt::format("watch: event without type or object: {}", line.substr(0, 200)));
  }
  static const std::pair<const char*, WatchEventType> kTypes[] = {
      {"ADDED", WatchEventType::kAdded},     {"MODIFIED", WatchEventType::kModified},
      {"DELETED", WatchEventType::kDeleted}, {"BOOKMARK", WatchEventType::kBookmark},
      {"ERROR", WatchEventType::kError},
  };
  const std::string& name = type->get_ref<const std::string&>();
  for (const auto& [text, value] : kTypes) {
    if (name == text) return WatchEvent{value, std::move(*object)};
  }
  return Status::Error(fmt::format("watch: unknown event type \"{}\"", name));
}

Result<bool> WatchLineSplitter::Feed(std::string_view data,
                                     const std::function<bool(std::string_view line)>& on_line) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    if (newline == std::string_view::npos) {
      if (pending_.size() + data.size() > max_line_bytes_) {
        return Status::Error(fmt::format("watch: a line longer than {} bytes", max_line_bytes_));
      }
      pending_.append(data);
      return true;
    }
    std::string_view line;
    if (pending_.empty()) {
      line = data.substr(0, newline);  // the common case: no copy
    } else {
      if (pending_.size() + newline > max_line_bytes_) {
        return Status::Error(fmt::format("watch: a line longer than {} bytes", max_line_bytes_));
      }
      pending_.append(data.substr(0, newline));
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool go_on = line.empty() || on_line(line);
    pending_.clear();
    data.remove_prefix(newline + 1);
    if (!go_on) return false;
  }
  return true;
}

}  // namespace redkube::kube
