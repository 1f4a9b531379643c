#include "core/config_parameters.h"

#include <gtest/gtest.h>

namespace redkube {
namespace {

TEST(ConfigParameters, PlatformParametersAreRefusedWithAReason) {
  for (const char* name : {"requirepass",
                           "masterauth",
                           "masteruser",
                           "dir",
                           "dbfilename",
                           "appendfilename",
                           "appenddirname",
                           "replicaof",
                           "slaveof",
                           "port",
                           "tls-port",
                           "bind",
                           "unixsocket",
                           "unixsocketperm",
                           "cluster-enabled",
                           "cluster-node-timeout",
                           "min-replicas-to-write",
                           "min-slaves-to-write",
                           "min-replicas-max-lag",
                           "repl-timeout",
                           "repl-ping-replica-period",
                           "repl-ping-slave-period",
                           "protected-mode",
                           "logfile",
                           "pidfile",
                           "daemonize",
                           "aclfile",
                           "rename-command",
                           "enable-debug-command",
                           "enable-module-command",
                           "enable-protected-configs",
                           "replica-read-only",
                           "tls-cert-file"}) {
    auto why = ConfigParameterRefusal(name);
    ASSERT_TRUE(why.has_value()) << name;
    EXPECT_GT(why->size(), 20u) << name;
  }
}

TEST(ConfigParameters, ApplicationParametersAreAllowed) {
  for (const char* name :
       {"maxmemory", "maxmemory-policy", "notify-keyspace-events", "hash-max-listpack-entries",
        "slowlog-log-slower-than", "timeout", "save", "appendonly", "lazyfree-lazy-eviction",
        "replica-priority", "latency-tracking", "maxclients"}) {
    EXPECT_FALSE(ConfigParameterRefusal(name).has_value()) << name;
  }
}

TEST(ConfigParameters, PerServerParametersAreNotCompared) {
  EXPECT_TRUE(ConfigParameterDiffersPerServer("port"));
  EXPECT_TRUE(ConfigParameterDiffersPerServer("dir"));
  EXPECT_TRUE(ConfigParameterDiffersPerServer("min-replicas-to-write"));
  EXPECT_TRUE(ConfigParameterDiffersPerServer("replica-priority"));
  EXPECT_FALSE(ConfigParameterDiffersPerServer("maxmemory"));
}

TEST(ConfigParameters, NamesAreLoweredAndPatternsRefused) {
  EXPECT_EQ(NormalizedConfigParameter("MaxMemory-Policy"), "maxmemory-policy");
  EXPECT_FALSE(NormalizedConfigParameter("max*").has_value());
  EXPECT_FALSE(NormalizedConfigParameter("").has_value());
  EXPECT_FALSE(NormalizedConfigParameter("a b").has_value());
  EXPECT_FALSE(NormalizedConfigParameter(std::string(129, 'a')).has_value());
}

}  // namespace
}  // namespace redkube
