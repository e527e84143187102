#include "common/util/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/util/openssl_ptr.h"
#include "common/util/text.h"

namespace tally {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

bool IsHex(absl::string_view text) {
  if (text.empty() || text.size() % 2 != 0) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

const EVP_MD* Md(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha1:
      return EVP_sha1();
    case HashAlgorithm::kSha512:
      return EVP_sha512();
    case HashAlgorithm::kSha256:
      break;
  }
  return EVP_sha256();
}

}  // namespace

absl::StatusOr<std::string> DecodeSecret(absl::string_view text, size_t min_bytes, bool exact,
                                         absl::string_view name) {
  std::string bytes;
  if (IsHex(text) && text.size() >= 64) {
    for (size_t i = 0; i < text.size(); i += 2) {
      bytes.push_back(static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1])));
    }
  } else {
    std::string url(text);
    while (!url.empty() && url.back() == '=') url.pop_back();
    for (char& c : url) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
    if (url.empty() || !Base64UrlDecode(url, &bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is neither hex nor base64"));
    }
  }
  if (exact && bytes.size() != min_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must decode to exactly ", min_bytes, " bytes"));
  }
  if (bytes.size() < min_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must decode to at least ", min_bytes, " bytes"));
  }
  return bytes;
}

std::string Hmac(HashAlgorithm algorithm, absl::string_view key, absl::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out;
  unsigned int length = 0;
  // One-shot HMAC() is EVP-based and thread-safe.
  if (HMAC(Md(algorithm), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &length) == nullptr) {
    std::abort();  // only on allocation failure; continuing would compare garbage
  }
  return std::string(reinterpret_cast<const char*>(out.data()), length);
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  return Hmac(HashAlgorithm::kSha256, key, data);
}

std::string Sha256(absl::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

std::string HexEncode(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string SealAesGcm(absl::string_view key, absl::string_view plaintext, absl::string_view aad,
                       RandomSource& random) {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  random.Fill(absl::MakeSpan(nonce, kNonceBytes));
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  unsigned char* body = nonce + kNonceBytes;
  const bool ok =
      ctx != nullptr && key.size() == 32 &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nonce) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), body, &length,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), body + length, &length) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          body + plaintext.size()) == 1;
  // The key size is checked at start-up; failing here means OpenSSL is broken, and queueing an
  // unencrypted or unreadable job would be worse than stopping.
  if (!ok) std::abort();
  return out;
}

absl::StatusOr<std::string> OpenAesGcm(absl::string_view key, absl::string_view sealed,
                                       absl::string_view aad) {
  if (key.size() != 32 || sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("sealed message is truncated");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  const size_t body_size = sealed.size() - kNonceBytes - kTagBytes;
  std::string plaintext(body_size, '\0');
  std::array<unsigned char, kTagBytes> tag;
  std::copy(nonce + kNonceBytes + body_size, nonce + sealed.size(), tag.begin());
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  const bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &length, nonce + kNonceBytes,
                        static_cast<int>(body_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + length, &length) == 1;
  if (!ok) return absl::DataLossError("sealed message does not authenticate");
  return plaintext;
}

}  // namespace tally
