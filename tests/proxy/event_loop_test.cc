#include "proxy/event_loop.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace redkube::proxy {
namespace {

TEST(EventLoopTest, TasksPostedFromOtherThreadsRunOnTheLoopInTheirOrder) {
  EventLoop loop;
  std::vector<int> ran;
  std::thread::id loop_thread;
  std::thread poster([&] {
    for (int i = 0; i < 3; ++i) loop.Post([&, i] { ran.push_back(i); });
    loop.Post([&] {
      loop_thread = std::this_thread::get_id();
      loop.Stop();
    });
  });
  loop.Run();
  poster.join();
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(loop_thread, std::this_thread::get_id());
}

TEST(EventLoopTest, ATaskMayPostAnotherThatRunsOnALaterWakeup) {
  EventLoop loop;
  int second = 0;
  loop.Post([&] {
    loop.Post([&] {
      second = 1;
      loop.Stop();
    });
  });
  loop.Run();
  EXPECT_EQ(second, 1);
}

}  // namespace
}  // namespace redkube::proxy
