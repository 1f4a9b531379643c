#include "proxy/topology_watcher.h"

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cctype>

#include "proxy/event_loop.h"
#include "proxy/master_witness.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {
namespace {

// Well under the ConfigServer's proxy expiry (7 s after its last report):
// a proxy whose polls all wait the full time reports every second, so a
// fence it confirms or a master it stops reaching is news within one.
constexpr int kWaitMs = 1000;
// How much longer than its wait a poll may take before it is given up on
// (and the next URL tried): a ConfigServer that hangs must not eat the
// proxy's lease (5 s) before another is asked.
constexpr int kReadSlackMs = 1500;
constexpr auto kRetryEvery = std::chrono::milliseconds(300);
// How long a new topology may take to reach every worker before the next
// poll goes out anyway (reporting the epoch they did apply).
constexpr auto kApplyWait = std::chrono::milliseconds(1000);

// A query parameter value: unreserved characters (and ':' ',' of the
// `unreachable=` list) as they are, the rest percent-encoded.
std::string QueryValue(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == ',') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

// A poll that answered is followed by the next one at once (Wake); one
// that failed waits kRetryEvery, the poller's interval.
TopologyWatcher::TopologyWatcher(std::vector<std::string> urls, std::string cluster, std::string token,
                                 std::string proxy_id)
    : urls_(std::move(urls)),
      cluster_(std::move(cluster)),
      token_(std::move(token)),
      proxy_id_(std::move(proxy_id)),
      poller_("proxy-topology", kRetryEvery, [this] { PollOnce(); }) {}

TopologyWatcher::~TopologyWatcher() { Stop(); }

Result<std::shared_ptr<const Topology>> TopologyWatcher::Poll(const std::string& url, uint64_t after,
                                                              int wait_ms, int64_t* sent_ms_out) {
  httplib::Client client(url);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::milliseconds(wait_ms + kReadSlackMs));
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  std::string path = "/v1/clusters/" + cluster_ + "/topology";
  // Every request, the first fetch included, carries the report (see the
  // header): the first one too, because the lease starts with it, and a
  // proxy that writes must be one the leader knows (waits for, and whose
  // witness it hears). Unknown parameters are ignored by a ConfigServer
  // that does not record them.
  path += "?after=" + std::to_string(after) + "&wait_ms=" + std::to_string(wait_ms);
  path += "&proxy=" + QueryValue(proxy_id_) +
          "&applied=" + std::to_string(server_ != nullptr ? server_->AppliedEpoch() : 0);
  if (!announce_address_.empty()) path += "&address=" + QueryValue(announce_address_);
  const int64_t sent_ms = EventLoop::MonotonicMs();
  *sent_ms_out = sent_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Error("stopping");
    // The report is read under mu_, where Interrupt() takes it: a change
    // after this point abandons this poll; one before is in it.
    interrupted_ = false;
    // Before the witness has checked anything (the first fetch) the
    // report is empty: "I reach every master", which vetoes failovers
    // rather than allowing them.
    path += "&unreachable=" + (witness_ != nullptr ? QueryValue(witness_->UnreachableReport()) : "");
    active_ = &client;
  }
  auto res = client.Get(path, headers);
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = nullptr;
  }
  if (!res) return Status::Error(url + ": " + httplib::to_string(res.error()));
  if (res->status == 204) {
    RecordAnswer(sent_ms);
    return std::shared_ptr<const Topology>();
  }
  if (res->status != 200) {
    return Status::Error(url + ": HTTP " + std::to_string(res->status) + ": " + res->body);
  }
  auto topology = Topology::FromJson(res->body);
  if (!topology.ok()) return Status::Error(url + ": invalid topology: " + topology.error());
  return topology;
}

Result<std::shared_ptr<const Topology>> TopologyWatcher::FetchOnce() {
  Status last = Status::Error("no ConfigServer URL");
  for (size_t i = 0; i < urls_.size(); ++i) {
    const std::string& url = urls_[(current_ + i) % urls_.size()];
    int64_t sent_ms = 0;
    auto topology = Poll(url, 0, 0, &sent_ms);
    if (topology.ok() && topology.value()) {
      current_ = (current_ + i) % urls_.size();
      // Applied before the proxy serves anyone.
      RecordAnswer(sent_ms);
      return topology;
    }
    last = topology.ok() ? Status::Error(url + ": no topology") : topology.status();
  }
  return last;
}

void TopologyWatcher::RecordAnswer(int64_t sent_ms) {
  int64_t seen = last_answer_sent_ms_.load();
  while (sent_ms > seen && !last_answer_sent_ms_.compare_exchange_weak(seen, sent_ms)) {
  }
  if (server_ != nullptr) server_->RecordConfigServerAnswer(sent_ms);
}

void TopologyWatcher::Interrupt() {
  // At most one abandoned poll a second: a master that flaps (PINGs about
  // as slow as their timeout) must not abandon every poll, or none would
  // complete and the lease would run out. A change within the second goes
  // with the next poll, at most a wait (1 s) later.
  constexpr int64_t kMinInterruptGapMs = 1000;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = EventLoop::MonotonicMs();
  if (now - last_interrupt_ms_ < kMinInterruptGapMs) return;
  last_interrupt_ms_ = now;
  interrupted_ = true;
  if (active_ != nullptr) active_->stop();
  poller_.Wake();
}

bool TopologyWatcher::TakeInterrupted() {
  std::lock_guard<std::mutex> lock(mu_);
  bool was = interrupted_;
  interrupted_ = false;
  return was;
}

void TopologyWatcher::Start(ProxyServer* server, uint64_t epoch) {
  server_ = server;
  epoch_ = epoch;
  poller_.Start();
}

void TopologyWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Ends a long-poll in flight now rather than when it times out.
    if (active_ != nullptr) active_->stop();
  }
  poller_.Stop();
}

bool TopologyWatcher::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void TopologyWatcher::PollOnce() {
  const std::string& url = urls_[current_];
  int64_t sent_ms = 0;
  auto topology = Poll(url, epoch_, kWaitMs, &sent_ms);
  // A poll that Stop() aborted is neither applied nor a failure to report.
  if (Stopping()) return;
  // Nor one abandoned for a new report: the next goes at once (Interrupt
  // woke the poller).
  if (!topology.ok() && TakeInterrupted()) return;
  if (topology.ok()) {
    connected_.store(true);
    if (warned_) spdlog::info("following the ConfigServer at {} again", url);
    warned_ = false;
    if (topology.value()) {
      epoch_ = std::max(epoch_, topology.value()->epoch());
      if (server_->UpdateTopology(topology.value())) {
        updates_.fetch_add(1);
        // The next poll reports it applied: wait until it is (a worker
        // stuck longer than kApplyWait is reported as it is, lagging).
        if (!server_->WaitApplied(topology.value()->epoch(), kApplyWait)) {
          spdlog::warn("topology epoch {} not applied by every worker within {} ms (applied: {})",
                       topology.value()->epoch(), kApplyWait.count(), server_->AppliedEpoch());
        }
      }
      // Only now (see Poll): a proxy whose lease ran out while a failover
      // went on must not write by the old topology between the answer and
      // its workers applying the new one.
      RecordAnswer(sent_ms);
    }
    poller_.Wake();
    return;
  }
  connected_.store(false);
  if (!warned_) {
    spdlog::warn("ConfigServer unreachable, keeping topology epoch {}: {}", epoch_, topology.error());
    warned_ = true;
  }
  current_ = (current_ + 1) % urls_.size();
}

}  // namespace redkube::proxy
