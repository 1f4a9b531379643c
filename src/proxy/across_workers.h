// A request answered from every worker thread (CLIENT LIST, CLIENT KILL):
// `collect` runs on each worker, on its own thread with its context, and
// returns what that worker contributes (a copy: nothing of a worker's is
// read from another thread); the parts come back to the asking client's
// worker, and once all are in, `finish` turns them into the reply, which
// fills the reply slot opened for the request when it was dispatched, so
// the reply keeps its place among the client's pipelined ones.
//
// The client may disconnect meanwhile: its slot is then orphaned like one a
// server still owes (ReplyQueue::Close), and freed when the reply comes.
// `collect` is shared by the workers and must not change what it captured.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "proxy/request_context.h"

namespace redkube::proxy {

struct AcrossWorkersReply {
  std::string reply;
  bool close_after = false;  // the asking client closes once it is written
};

using CollectOnWorker = std::function<std::string(WorkerContext& worker)>;
// On the asking worker: the parts, in the order of ProxyServer::workers().
using FinishOnAsker =
    std::function<AcrossWorkersReply(WorkerContext& asker, std::vector<std::string>& parts)>;

void AnswerAcrossWorkers(RequestContext& ctx, CollectOnWorker collect, FinishOnAsker finish);

}  // namespace redkube::proxy
