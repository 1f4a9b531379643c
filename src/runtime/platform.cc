#include "runtime/platform.h"

#include <thread>

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;

Status PollReady(const std::function<Result<Readiness>()>& query, const std::string& what,
                 std::chrono::milliseconds timeout, std::chrono::milliseconds poll) {
  const auto deadline = Clock::now() + timeout;
  std::string waiting_for;
  for (;;) {
    auto readiness = query();
    if (!readiness.ok()) return readiness.status();
    if (readiness->ready) return Status::Ok();
    waiting_for = readiness->waiting_for;
    if (Clock::now() + poll > deadline) break;
    std::this_thread::sleep_for(poll);
  }
  return Status::Error(what + " not ready after " + std::to_string(timeout.count()) + " ms: " + waiting_for);
}

}  // namespace

Status WaitMembersReady(Platform* platform, const std::string& group, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds poll) {
  return PollReady([&] { return platform->MembersReady(group); }, group, timeout, poll);
}

Status WaitProxiesReady(Platform* platform, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds poll) {
  return PollReady([&] { return platform->ProxiesReady(); }, "the proxies", timeout, poll);
}

}  // namespace redkube::runtime
