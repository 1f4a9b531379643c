#include "proxy/across_workers.h"

#include <memory>

#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

// Lives until the last part is in; `parts`, `remaining` and `slot` are
// touched on the asking worker's thread only.
struct Gathering {
  CollectOnWorker collect;
  FinishOnAsker finish;
  std::vector<std::string> parts;
  size_t remaining = 0;
  PendingReply* slot = nullptr;
};

}  // namespace

void AnswerAcrossWorkers(RequestContext& ctx, CollectOnWorker collect, FinishOnAsker finish) {
  ProxyServer* server = ctx.worker.server;
  const auto& workers = server->workers();
  auto gathering = std::make_shared<Gathering>();
  gathering->collect = std::move(collect);
  gathering->finish = std::move(finish);
  gathering->parts.resize(workers.size());
  gathering->remaining = workers.size();
  gathering->slot = ctx.replies.Open(1);
  const int asker = ctx.worker.worker_index;
  for (size_t i = 0; i < workers.size(); ++i) {
    workers[i]->Post([gathering, i, server, asker](WorkerContext& worker) {
      std::string part = gathering->collect(worker);
      server->workers()[asker]->Post([gathering, i, part = std::move(part)](WorkerContext& home) mutable {
        gathering->parts[i] = std::move(part);
        if (--gathering->remaining > 0) return;
        AcrossWorkersReply answer = gathering->finish(home, gathering->parts);
        PendingReply* slot = gathering->slot;
        if (answer.close_after && slot->queue != nullptr) slot->queue->CloseAfter(slot);
        DeliverReply(slot, 0, answer.reply, home.pending_pool);
      });
    });
  }
}

}  // namespace redkube::proxy
