#include "operator/kube/lease_record.h"

#include <fmt/format.h>

#include <ctime>

namespace redkube::kube {
namespace {

std::string StringAt(const nlohmann::json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : "";
}

int IntAt(const nlohmann::json& spec, const char* key) {
  auto it = spec.find(key);
  return it != spec.end() && it->is_number_integer() ? it->get<int>() : 0;
}

}  // namespace

LeaseRecord LeaseRecordFromLease(const nlohmann::json& lease) {
  LeaseRecord record;
  if (!lease.is_object()) return record;
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return record;
  record.holder = StringAt(*spec, "holderIdentity");
  record.duration_s = IntAt(*spec, "leaseDurationSeconds");
  record.acquire_time = StringAt(*spec, "acquireTime");
  record.renew_time = StringAt(*spec, "renewTime");
  record.transitions = IntAt(*spec, "leaseTransitions");
  return record;
}

nlohmann::json LeaseSpec(const LeaseRecord& record) {
  nlohmann::json spec = {{"holderIdentity", record.holder}, {"leaseTransitions", record.transitions}};
  // The API server refuses a leaseDurationSeconds of 0 and empty times.
  if (record.duration_s > 0) spec["leaseDurationSeconds"] = record.duration_s;
  if (!record.acquire_time.empty()) spec["acquireTime"] = record.acquire_time;
  if (!record.renew_time.empty()) spec["renewTime"] = record.renew_time;
  return spec;
}

std::string FormatMicroTime(std::chrono::system_clock::time_point time) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  long fraction = static_cast<long>(micros % 1000000);
  if (fraction < 0) {  // before 1970: floor, not truncate
    fraction += 1000000;
    seconds -= 1;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}Z", buf, fraction);
}

LeaseAction DecideLease(bool exists, const LeaseRecord& record, std::string_view identity,
                        std::chrono::steady_clock::duration unchanged_for,
                        std::chrono::seconds default_duration) {
  if (!exists) return LeaseAction::kCreate;
  if (record.holder.empty()) return LeaseAction::kTakeOver;
  if (record.holder == identity) return LeaseAction::kRenew;
  auto duration = record.duration_s > 0 ? std::chrono::seconds(record.duration_s) : default_duration;
  return unchanged_for >= duration ? LeaseAction::kTakeOver : LeaseAction::kWait;
}

}  // namespace redkube::kube
