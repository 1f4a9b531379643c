#include "proxy/client_pause.h"

#include <gtest/gtest.h>

namespace redkube::proxy {
namespace {

TEST(ClientPauseTest, OffUntilPausedAndAfterItsDeadline) {
  ClientPause pause;
  EXPECT_FALSE(pause.Active());
  pause.Pause(ClientPause::Mode::kWrite, 1000);
  EXPECT_TRUE(pause.Active());
  EXPECT_EQ(pause.WaitUntil(true, 500), 1000);
  EXPECT_EQ(pause.RemainingMs(400), 600);
  EXPECT_EQ(pause.WaitUntil(true, 1000), 0);  // the deadline passed
  EXPECT_FALSE(pause.Active());               // and the request path is back to one load
}

TEST(ClientPauseTest, WriteHoldsWritesOnlyAndAllHoldsEverything) {
  ClientPause pause;
  pause.Pause(ClientPause::Mode::kWrite, 1000);
  EXPECT_EQ(pause.WaitUntil(false, 0), 0);
  pause.Pause(ClientPause::Mode::kAll, 500);
  EXPECT_EQ(pause.WaitUntil(false, 0), 1000);  // stricter, never shorter
  pause.Pause(ClientPause::Mode::kWrite, 2000);
  EXPECT_EQ(pause.WaitUntil(false, 0), 2000);  // longer, still ALL
  pause.Unpause();
  EXPECT_FALSE(pause.Active());
  EXPECT_EQ(pause.WaitUntil(true, 0), 0);
}

}  // namespace
}  // namespace redkube::proxy
