// redkube-operator: reconciles RedisCluster resources (docs/operator.md).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <memory>

#include "core/signals.h"
#include "operator/controller.h"
#include "operator/kube/kube_config.h"
#include "operator/kube/lease_elector.h"
#include "operator/reconciler.h"

int main(int argc, char** argv) {
  CLI::App app{"redkube-operator: RedisCluster resources reconciled into shards, proxies and a ConfigServer"};
  std::string kubeconfig, service_account_dir = redkube::kube::kDefaultServiceAccountDir;
  std::string watch_namespace, lease_namespace, identity;
  bool leader_elect = true;
  int lease_seconds = 15;
  redkube::op::ImagesSpec images;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file (default: $KUBECONFIG, else in-cluster)");
  app.add_option("--service-account-dir", service_account_dir, "in-cluster token, ca.crt and namespace")
      ->capture_default_str();
  app.add_option("--namespace", watch_namespace, "watch RedisClusters of this namespace only (default: all)");
  app.add_option("--lease-namespace", lease_namespace,
                 "namespace of the leader-election Lease (default: the pod's, else redkube-system)");
  app.add_option("--id", identity, "this replica's name in leader election (default: hostname and pid)");
  app.add_flag("--leader-elect,!--no-leader-elect", leader_elect, "elect a leader on a Lease")
      ->capture_default_str();
  app.add_option("--lease-seconds", lease_seconds, "Lease duration")->capture_default_str();
  app.add_option("--server-image", images.server, "default server image")->capture_default_str();
  app.add_option("--proxy-image", images.proxy, "default proxy image")->capture_default_str();
  app.add_option("--configserver-image", images.configserver, "default ConfigServer image")
      ->capture_default_str();
  app.add_option("--etcd-image", images.etcd, "default etcd image")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("operator"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ redkube-operator: %v");

  auto config = redkube::kube::Load(kubeconfig, service_account_dir);
  if (!config.ok()) {
    spdlog::error("{}", config.error());
    return 2;
  }
  if (lease_namespace.empty()) {
    std::ifstream in(service_account_dir + "/namespace");
    std::getline(in, lease_namespace);
    if (lease_namespace.empty()) lease_namespace = "redkube-system";
  }
  if (identity.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    identity = std::string(host) + "-" + std::to_string(getpid());
  }

  // Taken by this thread only: the threads started below inherit the mask.
  const redkube::SignalWaiter signals({SIGTERM, SIGINT});

  redkube::kube::KubeClient client(config.value());
  if (!client.init_status().ok()) {
    spdlog::error("{}", client.init_status().message());
    return 2;
  }
  std::unique_ptr<redkube::kube::LeaseElector> elector;
  if (leader_elect) {
    elector = std::make_unique<redkube::kube::LeaseElector>(&client, lease_namespace, "redkube-operator",
                                                            identity, std::chrono::seconds(lease_seconds));
    elector->Start();
  }
  redkube::op::Reconciler reconciler(&client, images);
  redkube::op::Controller controller(&client, &reconciler, watch_namespace, elector.get());
  controller.Start();
  spdlog::info("started as {} against {}{}", identity, config->server,
               leader_elect ? ", leader election on " + lease_namespace + "/redkube-operator" : "");

  int sig = signals.Wait();
  spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  controller.Stop();
  if (elector) elector->Stop();  // releases the Lease: a standby leads at once
  spdlog::info("stopped");
  return 0;
}
