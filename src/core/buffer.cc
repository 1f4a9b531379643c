#include "core/buffer.h"

#include <cstdlib>
#include <new>
#include <utility>

namespace redkube {

Buffer::~Buffer() { std::free(data_); }

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      read_(std::exchange(other.read_, 0)),
      write_(std::exchange(other.write_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    read_ = std::exchange(other.read_, 0);
    write_ = std::exchange(other.write_, 0);
  }
  return *this;
}

void Buffer::Reserve(size_t n) {
  if (capacity_ - write_ >= n) return;
  size_t unread = write_ - read_;
  // Reclaim consumed space first when that alone makes room and the move is
  // cheap relative to what was consumed.
  if (read_ > 0 && capacity_ - unread >= n && read_ >= unread) {
    std::memmove(data_, data_ + read_, unread);
    read_ = 0;
    write_ = unread;
    return;
  }
  size_t needed = unread + n;
  size_t new_capacity = capacity_ ? capacity_ : 512;
  while (new_capacity < needed) new_capacity *= 2;
  if (read_ > 0) {
    std::memmove(data_, data_ + read_, unread);
    read_ = 0;
    write_ = unread;
  }
  if (new_capacity != capacity_) {
    char* p = static_cast<char*>(std::realloc(data_, new_capacity));
    if (p == nullptr) throw std::bad_alloc();
    data_ = p;
    capacity_ = new_capacity;
  }
}

void Buffer::ShrinkIfIdle(size_t keep_bytes) {
  if (empty() && capacity_ > keep_bytes) {
    std::free(data_);
    data_ = nullptr;
    capacity_ = read_ = write_ = 0;
  }
}

}  // namespace redkube
