#include "services/credential/password_hasher.h"

#include <argon2.h>
#include <openssl/crypto.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tally::credential {
namespace {

constexpr uint32_t kMaxMemoryKib = 4u * 1024 * 1024;  // 4 GiB
constexpr uint32_t kMaxIterations = 64;
constexpr uint32_t kMaxParallelism = 16;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMaxSaltBytes = 64;
constexpr size_t kMinHashBytes = 16;
constexpr size_t kMaxHashBytes = 64;

absl::Status Malformed() {
  return absl::InvalidArgumentError("stored password hash is not an Argon2id PHC string");
}

// Standard base64 without padding, as PHC strings use.
std::string B64(std::string_view raw) {
  std::string out = absl::Base64Escape(absl::string_view(raw.data(), raw.size()));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// Only canonical unpadded standard base64: what B64 would write.
bool UnB64(absl::string_view text, std::string* raw) {
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return absl::Base64Unescape(text, raw) && B64(*raw) == text;
}

// "<name>=<decimal>" with no sign and no leading zero.
bool ParseParam(absl::string_view field, char name, uint32_t* value) {
  if (field.size() < 3 || field[0] != name || field[1] != '=') return false;
  const absl::string_view digits = field.substr(2);
  if (digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return false;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(digits, value);
}

}  // namespace

absl::Status ValidateArgon2Params(const Argon2Params& p) {
  if (p.parallelism < 1 || p.parallelism > kMaxParallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("Argon2 parallelism must be 1 to ", kMaxParallelism));
  }
  if (p.iterations < 1 || p.iterations > kMaxIterations) {
    return absl::InvalidArgumentError(
        absl::StrCat("Argon2 iterations must be 1 to ", kMaxIterations));
  }
  if (p.memory_kib < 8 * p.parallelism || p.memory_kib > kMaxMemoryKib) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Argon2 memory must be 8 KiB per lane to ", kMaxMemoryKib, " KiB (4 GiB)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Argon2idHash> ParsePhc(std::string_view encoded) {
  // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(encoded.data(), encoded.size()), '$');
  if (parts.size() != 6 || !parts[0].empty() || parts[1] != "argon2id" || parts[2] != "v=19") {
    return Malformed();
  }
  const std::vector<absl::string_view> params = absl::StrSplit(parts[3], ',');
  Argon2idHash out;
  if (params.size() != 3 || !ParseParam(params[0], 'm', &out.params.memory_kib) ||
      !ParseParam(params[1], 't', &out.params.iterations) ||
      !ParseParam(params[2], 'p', &out.params.parallelism) ||
      !ValidateArgon2Params(out.params).ok()) {
    return Malformed();
  }
  if (!UnB64(parts[4], &out.salt) || out.salt.size() < kMinSaltBytes ||
      out.salt.size() > kMaxSaltBytes || !UnB64(parts[5], &out.hash) ||
      out.hash.size() < kMinHashBytes || out.hash.size() > kMaxHashBytes) {
    return Malformed();
  }
  return out;
}

std::string EncodePhc(const Argon2idHash& h) {
  return absl::StrCat("$argon2id$v=19$m=", h.params.memory_kib, ",t=", h.params.iterations,
                      ",p=", h.params.parallelism, "$", B64(h.salt), "$", B64(h.hash));
}

namespace {

// ARGON2_BLOCK_SIZE of libargon2's private core.h: it allocates m_cost blocks of this size
// (m_cost >= 8 × lanes, which ValidateArgon2Params ensures, so never more).
constexpr size_t kArgon2BlockBytes = 1024;

// libargon2's allocation callbacks carry no user pointer: the leased buffer of the run on this
// thread is handed over here (libargon2 allocates in the calling thread, even with lanes > 1).
thread_local Argon2Buffers::Lease* tls_lease = nullptr;

int AllocateFromLease(uint8_t** memory, size_t bytes) {
  if (tls_lease == nullptr || bytes > tls_lease->size()) return ARGON2_MEMORY_ALLOCATION_ERROR;
  *memory = tls_lease->data();
  return ARGON2_OK;
}

// libargon2 has wiped the memory before it calls this; the lease returns it to the pool.
void KeepLeased(uint8_t* /*memory*/, size_t /*bytes*/) {}

}  // namespace

absl::StatusOr<std::string> PasswordHasher::Derive(std::string_view password,
                                                   std::string_view salt,
                                                   const Argon2Params& params, size_t hash_bytes,
                                                   Argon2Buffers* buffers) {
  std::string out(hash_bytes, '\0');
  argon2_context context{};
  context.out = reinterpret_cast<uint8_t*>(out.data());
  context.outlen = static_cast<uint32_t>(out.size());
  // libargon2 reads these and, without ARGON2_FLAG_CLEAR_PASSWORD, never writes them.
  context.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
  context.pwdlen = static_cast<uint32_t>(password.size());
  context.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(salt.data()));
  context.saltlen = static_cast<uint32_t>(salt.size());
  context.t_cost = params.iterations;
  context.m_cost = params.memory_kib;
  context.lanes = params.parallelism;
  context.threads = params.parallelism;
  context.version = ARGON2_VERSION_13;
  context.flags = ARGON2_DEFAULT_FLAGS;
  Argon2Buffers::Lease lease;
  if (buffers != nullptr) lease = buffers->Take(size_t{params.memory_kib} * kArgon2BlockBytes);
  if (lease.data() != nullptr) {
    context.allocate_cbk = AllocateFromLease;
    context.free_cbk = KeepLeased;
    tls_lease = &lease;
  }
  const int rc = argon2_ctx(&context, Argon2_id);
  tls_lease = nullptr;
  if (rc != ARGON2_OK) {
    return absl::InternalError(absl::StrCat("argon2id failed: ", argon2_error_message(rc)));
  }
  return out;
}

absl::StatusOr<std::string> PasswordHasher::Hash(std::string_view password) const {
  Argon2idHash h;
  h.params = params_;
  h.salt.resize(kSaltBytes);
  random_.Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(h.salt.data()), h.salt.size()));
  absl::StatusOr<std::string> raw = Derive(password, h.salt, params_, kHashBytes, buffers_);
  if (!raw.ok()) return raw.status();
  h.hash = *std::move(raw);
  return EncodePhc(h);
}

absl::StatusOr<PasswordHasher::Verdict> PasswordHasher::Verify(std::string_view encoded,
                                                               std::string_view password) const {
  absl::StatusOr<Argon2idHash> stored = ParsePhc(encoded);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<std::string> derived =
      Derive(password, stored->salt, stored->params, stored->hash.size(), buffers_);
  if (!derived.ok()) return derived.status();
  Verdict verdict;
  verdict.match = CRYPTO_memcmp(derived->data(), stored->hash.data(), stored->hash.size()) == 0;
  verdict.needs_rehash = stored->params != params_ || stored->salt.size() != kSaltBytes ||
                         stored->hash.size() != kHashBytes;
  return verdict;
}

}  // namespace tally::credential
