#include "proxy/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

namespace redkube::proxy {

class EventLoop::WakeupHandler : public EventHandler {
 public:
  WakeupHandler(int fd, EventLoop* loop) : fd_(fd), loop_(loop) {}
  void OnEvent(uint32_t) override {
    uint64_t value;
    while (read(fd_, &value, sizeof(value)) > 0) {
    }
    loop_->RunPosted();
    if (loop_->on_wakeup_) loop_->on_wakeup_();
  }

 private:
  int fd_;
  EventLoop* loop_;
};

int64_t EventLoop::MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t EventLoop::MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

EventLoop::EventLoop() : now_us_(MonotonicUs()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wakeup_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wakeup_fd_ < 0) {
    throw std::runtime_error(std::string("cannot create event loop: ") + strerror(errno));
  }
  wakeup_handler_ = new WakeupHandler(wakeup_fd_, this);
  Add(wakeup_fd_, EPOLLIN, wakeup_handler_);
}

EventLoop::~EventLoop() {
  close(epoll_fd_);
  close(wakeup_fd_);
  delete wakeup_handler_;
}

void EventLoop::Add(int fd, uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void EventLoop::Modify(int fd, uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::Remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::Wakeup() {
  uint64_t one = 1;
  ssize_t ignored = write(wakeup_fd_, &one, sizeof(one));
  (void)ignored;
}

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(task));
  }
  Wakeup();
}

void EventLoop::RunPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  next_tick_ms_ = MonotonicMs() + tick_ms_;
  while (!stopping_) {
    int64_t wait_ms = next_tick_ms_ - MonotonicMs();
    if (wait_ms < 0) wait_ms = 0;
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(wait_ms));
    now_us_ = MonotonicUs();
    const int64_t now_ms = now_us_ / 1000;
    for (int i = 0; i < n; ++i) {
      static_cast<EventHandler*>(events[i].data.ptr)->OnEvent(events[i].events);
    }
    if (now_ms >= next_tick_ms_) {
      next_tick_ms_ = now_ms + tick_ms_;
      if (tick_) tick_();
    }
    if (before_sleep_) before_sleep_();
  }
  stopping_ = false;  // it may be run again (tests run it step by step)
}

}  // namespace redkube::proxy
