#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tally::credential {

// The Argon2id working memory of the service, allocated once: `count` buffers (one per hash
// that may run at once) of `bytes` each. libargon2 would otherwise malloc and page-fault its
// m KiB afresh for every hash, and glibc keeps freed buffers in per-thread arenas, so the
// service's memory grew with every thread that had hashed. Here it is count × bytes from start
// to end. Buffers are 2 MiB aligned and advised as transparent huge pages (fewer TLB misses in
// Argon2's random reads; ignored where THP is off), and touched at construction so the memory
// is really there before the first login.
class Argon2Buffers {
 public:
  Argon2Buffers(int count, size_t bytes);
  ~Argon2Buffers();
  Argon2Buffers(const Argon2Buffers&) = delete;
  Argon2Buffers& operator=(const Argon2Buffers&) = delete;

  // One buffer, returned to the pool when destroyed. Empty (data() == nullptr) when the request
  // is larger than the buffers (a hash stored with a bigger m) or every buffer is in use; the
  // caller then lets libargon2 allocate.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

   private:
    friend class Argon2Buffers;
    Lease(Argon2Buffers* pool, uint8_t* data, size_t size)
        : pool_(pool), data_(data), size_(size) {}
    Argon2Buffers* pool_ = nullptr;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
  };
  Lease Take(size_t bytes);

  size_t buffer_bytes() const { return bytes_; }
  int count() const { return static_cast<int>(all_.size()); }

 private:
  void Return(uint8_t* data);

  const size_t bytes_;
  size_t mapped_bytes_ = 0;
  std::vector<uint8_t*> all_;  // mmap'd regions, freed by the destructor
  absl::Mutex mu_;
  std::vector<uint8_t*> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::credential
