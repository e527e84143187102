#include "services/credential/argon2_buffers.h"

#include <sys/mman.h>

#include <cstring>

namespace tally::credential {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

Argon2Buffers::Argon2Buffers(int count, size_t bytes) : bytes_(bytes) {
  if (count <= 0 || bytes == 0) return;
  mapped_bytes_ = RoundUp(bytes, kHugePage);
  for (int i = 0; i < count; ++i) {
    // Map one huge page more than needed, so the buffer can start on a 2 MiB boundary.
    void* region = mmap(nullptr, mapped_bytes_ + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) break;  // fewer buffers: the rest allocate per hash
    auto* base = static_cast<uint8_t*>(region);
    const size_t skip = RoundUp(reinterpret_cast<uintptr_t>(base), kHugePage) -
                        reinterpret_cast<uintptr_t>(base);
    if (skip > 0) munmap(base, skip);
    munmap(base + skip + mapped_bytes_, kHugePage - skip);
    uint8_t* buffer = base + skip;
    madvise(buffer, mapped_bytes_, MADV_HUGEPAGE);  // best effort
    std::memset(buffer, 0, mapped_bytes_);
    all_.push_back(buffer);
  }
  free_ = all_;
}

Argon2Buffers::~Argon2Buffers() {
  for (uint8_t* buffer : all_) munmap(buffer, mapped_bytes_);
}

Argon2Buffers::Lease Argon2Buffers::Take(size_t bytes) {
  if (bytes > bytes_) return Lease();
  absl::MutexLock lock(&mu_);
  if (free_.empty()) return Lease();
  uint8_t* buffer = free_.back();
  free_.pop_back();
  return Lease(this, buffer, bytes_);
}

void Argon2Buffers::Return(uint8_t* data) {
  absl::MutexLock lock(&mu_);
  free_.push_back(data);
}

Argon2Buffers::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), data_(other.data_), size_(other.size_) {
  other.pool_ = nullptr;
  other.data_ = nullptr;
  other.size_ = 0;
}

Argon2Buffers::Lease& Argon2Buffers::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr && data_ != nullptr) pool_->Return(data_);
    pool_ = other.pool_;
    data_ = other.data_;
    size_ = other.size_;
    other.pool_ = nullptr;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Argon2Buffers::Lease::~Lease() {
  if (pool_ != nullptr && data_ != nullptr) pool_->Return(data_);
}

}  // namespace tally::credential
