// Key to hash slot, exactly as Redis Cluster's keyHashSlot(): CRC16-XMODEM of
// the key, or of its hash tag (the bytes between the first '{' and the next
// '}', if there is at least one), modulo 16384.
#pragma once

#include <cstdint>
#include <string_view>

namespace redkube {

inline constexpr int kSlotCount = 16384;

uint16_t Crc16(const char* data, size_t size);
uint16_t KeySlot(std::string_view key);

}  // namespace redkube
