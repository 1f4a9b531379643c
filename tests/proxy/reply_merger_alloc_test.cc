// A split MGET merges without allocating once warm: every global operator
// new of this test binary is counted while a window is open.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "proxy/reply_merger.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace redkube::proxy {
namespace {

// MGET k0..k9 split over three shards, merged into one reply.
void MergeOnce(ReplyMerger& merger, std::string* out) {
  static const std::string parts[3] = {
      "*4\r\n$2\r\nv0\r\n$2\r\nv3\r\n$-1\r\n$2\r\nv9\r\n",
      "*3\r\n$2\r\nv1\r\n$2\r\nv4\r\n$2\r\nv7\r\n",
      "*3\r\n$2\r\nv2\r\n$-1\r\n$2\r\nv8\r\n",
  };
  static const std::pair<uint32_t, uint32_t> positions[10] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1},
                                                              {2, 1}, {0, 2}, {1, 2}, {2, 2}, {0, 3}};
  merger.Reset(ReplyMerger::Kind::kMgetByPosition, 3);
  for (const auto& p : positions) merger.positions.push_back(p);
  for (uint32_t i = 0; i < 3; ++i) merger.SetPart(i, parts[i]);
  merger.Finish(out);
}

TEST(ReplyMergerAllocationTest, ASplitMgetAllocatesNothingOnceWarm) {
  ReplyMerger merger;
  std::string out;
  MergeOnce(merger, &out);  // warms the part buffers and scratch vectors
  ASSERT_EQ(out,
            "*10\r\n$2\r\nv0\r\n$2\r\nv1\r\n$2\r\nv2\r\n$2\r\nv3\r\n$2\r\nv4\r\n$-1\r\n$-1\r\n$2\r\nv7\r\n$"
            "2\r\nv8\r\n"
            "$2\r\nv9\r\n");
  allocations = 0;
  counting = true;
  for (int i = 0; i < 100; ++i) MergeOnce(merger, &out);
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  // The counter works: an allocation in the window is seen.
  counting = true;
  auto* probe = new std::string(100, 'x');
  counting = false;
  delete probe;
  EXPECT_GE(allocations.load(), 1);
}

}  // namespace
}  // namespace redkube::proxy
