// KubeClient against a local HTTP server playing the API server's wire
// format (the live test, kube_client_live_test.cc, uses a real one): the
// request each verb sends, how answers and errors come back, and watch
// streaming over chunked responses.
#include "operator/kube/kube_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace redkube::kube {
namespace {

using nlohmann::json;

class FakeApiServer {
 public:
  FakeApiServer() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~FakeApiServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  KubeConfig Config() const {
    KubeConfig config;
    config.server = "http://127.0.0.1:" + std::to_string(port_);
    config.token = "tok";
    return config;
  }

  struct Seen {
    std::string method, path, query_field_manager, query_force, content_type, authorization, body;
  };
  void Record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = {req.method,
             req.path,
             req.get_param_value("fieldManager"),
             req.get_param_value("force"),
             req.get_header_value("Content-Type"),
             req.get_header_value("Authorization"),
             req.body};
  }
  Seen last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  Seen last_;
};

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
              {"message", message}, {"reason", reason},   {"code", code}}
      .dump();
}

TEST(KubeClientTest, GetAndErrorsCarryTheHttpCode) {
  FakeApiServer api;
  api.server().Get(
      "/api/v1/namespaces/ns/configmaps/present", [&](const httplib::Request& req, httplib::Response& res) {
        api.Record(req);
        res.set_content(R"({"kind":"ConfigMap","metadata":{"name":"present","resourceVersion":"5"}})",
                        "application/json");
      });
  api.server().Get(
      "/api/v1/namespaces/ns/configmaps/absent", [](const httplib::Request&, httplib::Response& res) {
        res.status = 404;
        res.set_content(StatusBody(404, "NotFound", "configmaps \"absent\" not found"), "application/json");
      });
  KubeClient client(api.Config());
  ASSERT_TRUE(client.init_status().ok()) << client.init_status().message();
  auto got = client.Get(resources::kConfigMaps, "ns", "present");
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got.value()["metadata"]["resourceVersion"], "5");
  EXPECT_EQ(api.last().authorization, "Bearer tok");

  auto absent = client.Get(resources::kConfigMaps, "ns", "absent");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), 404);
  EXPECT_NE(absent.error().find("configmaps \"absent\" not found (NotFound)"), std::string::npos)
      << absent.error();

  // Nobody listening: no HTTP code.
  KubeConfig nowhere;
  nowhere.server = "http://127.0.0.1:1";
  auto refused = KubeClient(nowhere).Get(resources::kConfigMaps, "ns", "x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), 0);
}

TEST(KubeClientTest, ApplySendsAServerSideApplyPatch) {
  FakeApiServer api;
  api.server().Patch(R"(/apis/apps/v1/namespaces/ns/deployments/web(/status)?)",
                     [&](const httplib::Request& req, httplib::Response& res) {
                       api.Record(req);
                       res.set_content(req.body, "application/json");
                     });
  KubeClient client(api.Config());
  auto applied = client.Apply(resources::kDeployments, "ns", "web", {{"spec", {{"replicas", 2}}}});
  ASSERT_TRUE(applied.ok()) << applied.error();
  auto seen = api.last();
  EXPECT_EQ(seen.method, "PATCH");
  EXPECT_EQ(seen.path, "/apis/apps/v1/namespaces/ns/deployments/web");
  EXPECT_EQ(seen.query_field_manager, "redkube-operator");
  EXPECT_EQ(seen.query_force, "true");
  EXPECT_EQ(seen.content_type, "application/apply-patch+yaml");
  json body = json::parse(seen.body);
  EXPECT_EQ(body["apiVersion"], "apps/v1");
  EXPECT_EQ(body["kind"], "Deployment");
  EXPECT_EQ(body["metadata"]["name"], "web");
  EXPECT_EQ(body["metadata"]["namespace"], "ns");
  EXPECT_EQ(body["spec"]["replicas"], 2);

  ASSERT_TRUE(client.ApplyStatus(resources::kDeployments, "ns", "web", {{"status", {{"x", 1}}}}).ok());
  EXPECT_EQ(api.last().path, "/apis/apps/v1/namespaces/ns/deployments/web/status");

  ASSERT_TRUE(
      client.MergePatch(resources::kDeployments, "ns", "web", {{"metadata", {{"labels", {{"a", "b"}}}}}})
          .ok());
  EXPECT_EQ(api.last().content_type, "application/merge-patch+json");
  EXPECT_EQ(json::parse(api.last().body), (json{{"metadata", {{"labels", {{"a", "b"}}}}}}));
}

TEST(KubeClientTest, DeleteOfAnAbsentObjectIsSuccess) {
  FakeApiServer api;
  std::atomic<int> calls{0};
  api.server().Delete(R"(/api/v1/namespaces/ns/secrets/(\w+))",
                      [&](const httplib::Request& req, httplib::Response& res) {
                        ++calls;
                        EXPECT_EQ(req.get_param_value("propagationPolicy"), "Foreground");
                        if (req.matches[1] == "gone") {
                          res.status = 404;
                          res.set_content(StatusBody(404, "NotFound", "not found"), "application/json");
                        } else if (req.matches[1] == "locked") {
                          res.status = 403;
                          res.set_content(StatusBody(403, "Forbidden", "no"), "application/json");
                        } else {
                          res.set_content(StatusBody(200, "", "deleted"), "application/json");
                        }
                      });
  KubeClient client(api.Config());
  EXPECT_TRUE(client.Delete(resources::kSecrets, "ns", "there", "Foreground").ok());
  EXPECT_TRUE(client.Delete(resources::kSecrets, "ns", "gone", "Foreground").ok());
  Status forbidden = client.Delete(resources::kSecrets, "ns", "locked", "Foreground");
  EXPECT_EQ(forbidden.code(), 403);
  EXPECT_EQ(calls.load(), 3);
}

// A watch stream cut into chunks at awkward places.
TEST(KubeClientTest, WatchDeliversEventsUntilGone) {
  FakeApiServer api;
  std::string watch_query;
  api.server().Get("/api/v1/namespaces/ns/configmaps", [&](const httplib::Request& req,
                                                           httplib::Response& res) {
    watch_query = req.get_param_value("watch") + "," + req.get_param_value("allowWatchBookmarks") + "," +
                  req.get_param_value("resourceVersion") + "," + req.get_param_value("labelSelector") + "," +
                  req.get_param_value("timeoutSeconds");
    std::string stream =
        R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
        "\n"
        R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})"
        "\n"
        R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"13"}}})"
        "\n"
        R"({"type":"ERROR","object":{"kind":"Status","message":"too old resource version","reason":"Expired","code":410}})"
        "\n";
    res.set_chunked_content_provider("application/json", [stream](size_t, httplib::DataSink& sink) {
      for (size_t at = 0; at < stream.size(); at += 7)
        sink.write(stream.data() + at, std::min<size_t>(7, stream.size() - at));
      sink.done();
      return true;
    });
  });
  KubeClient client(api.Config());
  std::vector<std::string> seen;
  Status status = client.Watch(
      resources::kConfigMaps, "ns", "10", "app=x",
      [&](const WatchEvent& event) {
        seen.push_back(std::to_string(static_cast<int>(event.type)) + "@" + event.ResourceVersion());
        return true;
      },
      60);
  EXPECT_EQ(watch_query, "true,true,10,app=x,60");
  EXPECT_EQ(seen, (std::vector<std::string>{"0@11", "3@12", "1@13"}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), 410);
  EXPECT_NE(status.message().find("too old resource version"), std::string::npos) << status.message();
}

TEST(KubeClientTest, WatchEndsWhenTheCallbackSaysSoOrTheServerCloses) {
  FakeApiServer api;
  api.server().Get("/api/v1/namespaces/ns/pods", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 3; ++i) {
        std::string line =
            R"({"type":"ADDED","object":{"metadata":{"resourceVersion":")" + std::to_string(i) + "\"}}}\n";
        sink.write(line.data(), line.size());
      }
      sink.done();  // timeoutSeconds reached: a clean end
      return true;
    });
  });
  KubeClient client(api.Config());
  int events = 0;
  Status stopped =
      client.Watch(resources::kPods, "ns", "1", "", [&](const WatchEvent&) { return ++events < 2; });
  EXPECT_TRUE(stopped.ok()) << stopped.message();
  EXPECT_EQ(events, 2);
  events = 0;
  Status ended =
      client.Watch(resources::kPods, "ns", "1", "", [&](const WatchEvent&) { return ++events > 0; });
  EXPECT_TRUE(ended.ok()) << ended.message();
  EXPECT_EQ(events, 3);
}

TEST(KubeClientTest, WatchRefusedWithGoneReports410) {
  FakeApiServer api;
  api.server().Get("/api/v1/namespaces/ns/pods", [](const httplib::Request&, httplib::Response& res) {
    res.status = 410;
    res.set_content(StatusBody(410, "Gone", "resource version too old"), "application/json");
  });
  KubeClient client(api.Config());
  Status gone = client.Watch(resources::kPods, "ns", "1", "", [](const WatchEvent&) { return true; });
  EXPECT_EQ(gone.code(), 410);
  EXPECT_NE(gone.message().find("resource version too old"), std::string::npos);
}

TEST(KubeClientTest, StopWatchesEndsAWatchOnASilentStream) {
  FakeApiServer api;
  std::atomic<bool> release{false};
  api.server().Get("/api/v1/namespaces/ns/pods", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
      std::string line = R"({"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}})"
                         "\n";
      sink.write(line.data(), line.size());
      // Then silence, as a quiet watch is, until the test ends.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!release && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      sink.done();
      return true;
    });
  });
  KubeClient client(api.Config());
  std::atomic<bool> got_first{false};
  Status result = Status::Error("not run");
  auto start = std::chrono::steady_clock::now();
  std::thread watcher([&] {
    result = client.Watch(resources::kPods, "ns", "", "", [&](const WatchEvent&) {
      got_first = true;
      return true;
    });
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!got_first && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(got_first);
  // Other calls are not blocked by the running watch.
  api.server().Get("/api/v1/namespaces/ns/pods/p", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  EXPECT_TRUE(client.Get(resources::kPods, "ns", "p").ok());
  client.StopWatches();
  watcher.join();
  release = true;
  EXPECT_TRUE(result.ok()) << result.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // Later watches return at once.
  EXPECT_TRUE(client.Watch(resources::kPods, "ns", "", "", [](const WatchEvent&) { return true; }).ok());
}

TEST(KubeClientTest, BadConfigurationsFailEveryCall) {
  KubeConfig config;
  config.server = "ftp://x";
  KubeClient bad_scheme(config);
  EXPECT_FALSE(bad_scheme.init_status().ok());
  EXPECT_FALSE(bad_scheme.Get(resources::kPods, "ns", "p").ok());
  config.server = "https://127.0.0.1:6443";
  config.client_cert_data = "not pem";
  config.client_key_data = "not pem";
  KubeClient bad_cert(config);
  EXPECT_NE(bad_cert.init_status().message().find("not valid PEM"), std::string::npos);
}

TEST(ApiErrorMessageTest, StatusOrRawBody) {
  EXPECT_EQ(ApiErrorMessage(409, StatusBody(409, "AlreadyExists", "x exists")), "x exists (AlreadyExists)");
  EXPECT_EQ(ApiErrorMessage(502, "Bad Gateway"), "HTTP 502: Bad Gateway");
  EXPECT_EQ(ApiErrorMessage(500, ""), "HTTP 500");
}

}  // namespace
}  // namespace redkube::kube
