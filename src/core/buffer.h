// A growable byte buffer with separate read and write positions, for socket
// input and output. Growth is geometric and consumed bytes are reclaimed by
// moving the unread tail to the front, so appending N bytes costs O(N)
// amortised whatever the sizes involved (a 512 MB value is never copied
// quadratically). Not thread-safe: owned by one event loop.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace redkube {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;

  // Unread bytes.
  const char* data() const { return data_ + read_; }
  size_t size() const { return write_ - read_; }
  bool empty() const { return write_ == read_; }
  std::string_view view() const { return {data(), size()}; }
  size_t capacity() const { return capacity_; }

  // Marks n unread bytes as read. Once everything is read the positions reset.
  void Consume(size_t n) {
    read_ += n;
    if (read_ == write_) read_ = write_ = 0;
  }

  // Room to write at least n bytes at write_ptr(); may move the data.
  void Reserve(size_t n);
  char* write_ptr() { return data_ + write_; }
  size_t writable() const { return capacity_ - write_; }
  void Commit(size_t n) { write_ += n; }

  void Append(const char* p, size_t n) {
    // Nothing to add (a silenced reply): memcpy must not see a buffer that
    // has no storage yet (nullptr), even for 0 bytes.
    if (n == 0) return;
    if (writable() < n) Reserve(n);
    std::memcpy(data_ + write_, p, n);
    write_ += n;
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }
  // For the RESP writers shared with std::string (AppendBulk and friends).
  void append(const char* p, size_t n) { Append(p, n); }
  void Append(char c) {
    if (writable() < 1) Reserve(1);
    data_[write_++] = c;
  }

  void Clear() { read_ = write_ = 0; }
  // Drops what was appended after the first n unread bytes (n <= size()).
  void Truncate(size_t n) { write_ = read_ + n; }
  // Frees the memory when the buffer is empty and holds more than keep_bytes,
  // so idle connections cost little.
  void ShrinkIfIdle(size_t keep_bytes);

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace redkube
