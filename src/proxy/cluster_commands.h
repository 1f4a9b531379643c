// The commands of Redis Cluster's client protocol, answered by the proxy so
// that a cluster-mode client (redis-py RedisCluster, go-redis
// ClusterClient, ioredis Cluster, Jedis JedisCluster) pointed at one proxy
// works unchanged: CLUSTER INFO, SLOTS, SHARDS, NODES, MYID, KEYSLOT,
// COUNTKEYSINSLOT, GETKEYSINSLOT, REPLICAS, HELP, and READONLY, READWRITE,
// ASKING. The CLUSTER subcommands that administer a Redis Cluster (ADDSLOTS,
// MEET, FAILOVER, SETSLOT, RESET, ...) are refused with the reason.
// docs/proxy.md, "Cluster-mode clients".
#pragma once

#include <string_view>

#include "proxy/local_commands.h"

namespace redkube::proxy {

// The handler of a cluster command's full name ("cluster|slots",
// "readonly"), or nullptr if it is none. FindLocalCommand asks it.
LocalCommand FindClusterCommand(std::string_view full_name);

}  // namespace redkube::proxy
