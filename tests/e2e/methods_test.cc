// Issue 21 against the real cluster: an authenticator app (TOTP) and recovery codes, enrolled
// through the credential service and used in logins through the orchestrator. Codes are computed
// here as an app would, from the base32 secret (RFC 6238 with OpenSSL's HMAC-SHA-1), not with the
// credential service's own code.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tally/credential/v1/credential.grpc.pb.h"
#include "tally/orchestrator/v1/orchestrator.grpc.pb.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace cpb = ::tally::common::v1;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
using testing::Cluster;
using testing::ClusterOptions;

// RFC 4648 base32 (upper case, padding optional), as an authenticator app reads the secret.
std::string Base32Decode(const std::string& text) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char* at = std::char_traits<char>::find(kAlphabet, 32, absl::ascii_toupper(c));
    if (at == nullptr) continue;
    buffer = (buffer << 5) | static_cast<uint32_t>(at - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

// RFC 6238 with SHA-1, 6 digits, for time step `step`.
std::string TotpCode(const std::string& key, int64_t step) {
  unsigned char counter[8];
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(step & 0xff);
    step >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), counter, sizeof(counter), mac,
       &mac_len);
  const int offset = mac[mac_len - 1] & 0x0f;
  const uint32_t binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) |
                          (mac[offset + 2] << 8) | mac[offset + 3];
  return absl::StrFormat("%06d", binary % 1000000);
}

int64_t CurrentStep() { return absl::ToUnixSeconds(absl::Now()) / 30; }

// The private "methods" claim of a session token (its payload, not verified here: the
// orchestrator's ValidateSession is asked separately).
std::vector<std::string> MethodsClaim(const std::string& token) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string payload;
  if (parts.size() != 3 || !absl::WebSafeBase64Unescape(parts[1], &payload)) return {};
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object() || !claims.contains("methods")) return {};
  return claims["methods"].get<std::vector<std::string>>();
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

class MethodsTest : public testing::ClusterTest<MethodsTest> {
 public:
  static ClusterOptions Options() {
    ClusterOptions options;
    options.orchestrators = 1;
    return options;
  }

 protected:
  // A FREEMIUM directory (required 30, password 20, TOTP 10, recovery code 10) and a user in it
  // with a fresh session to enrol with.
  void SetUp() override {
    testing::ClusterTest<MethodsTest>::SetUp();
    dir_ = cluster().CreateDirectory();
    user_ = cluster().CreateUser(dir_, "mia");
    absl::StatusOr<std::string> token = testing::LoginWithPasswordAndSms(cluster(), dir_, user_);
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = *token;
  }

  // A login with the password accepted: its state.
  opb::LoginState AfterPassword() {
    opb::LoginState state;
    grpc::Status s = testing::StartLogin(cluster().logins(), dir_, user_.username, &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    s = testing::SubmitPassword(cluster().logins(), state.login_id(), testing::kClusterPassword,
                                &state);
    EXPECT_TRUE(s.ok()) << testing::Describe(s);
    EXPECT_EQ(state.last_step().outcome(), opb::STEP_OUTCOME_ACCEPTED);
    return state;
  }

  static bool Offers(const opb::LoginState& state, cpb::AuthMethod method) {
    for (const cpb::MethodPoints& offer : state.offered_methods()) {
      if (offer.method() == method) return true;
    }
    return false;
  }

  std::string dir_;
  Cluster::User user_;
  std::string token_;
};

TEST_F(MethodsTest, PasswordAndTotpLogInAndACodeWorksOnce) {
  // Not enrolled: TOTP is not offered once the password proved the user.
  EXPECT_FALSE(Offers(AfterPassword(), cpb::AUTH_METHOD_TOTP));

  credpb::StartTotpEnrollmentRequest start;
  start.set_user_id(user_.id);
  credpb::StartTotpEnrollmentResponse enrollment;
  grpc::Status s = cluster().users().StartTotpEnrollment(testing::NewContext(token_).get(), start,
                                                         &enrollment);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_TRUE(absl::StartsWith(enrollment.otpauth_uri(), "otpauth://totp/"));
  const std::string key = Base32Decode(enrollment.secret_base32());
  ASSERT_GE(key.size(), 20u) << "at least 160 bits";
  const int64_t step = CurrentStep();
  credpb::ConfirmTotpEnrollmentRequest confirm;
  confirm.set_enrollment_id(enrollment.enrollment_id());
  confirm.set_code(TotpCode(key, step));
  credpb::ConfirmTotpEnrollmentResponse confirmed;
  s = cluster().users().ConfirmTotpEnrollment(testing::NewContext(token_).get(), confirm,
                                              &confirmed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  ASSERT_TRUE(confirmed.user().has_totp());

  // The next step's code (within the ±1 window, and not the step the enrolment used).
  const std::string code = TotpCode(key, step + 1);
  opb::LoginState login = AfterPassword();
  ASSERT_TRUE(Offers(login, cpb::AUTH_METHOD_TOTP));
  opb::LoginState done;
  s = testing::SubmitTotp(cluster().logins(), login.login_id(), code, &done);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  ASSERT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done.score(), 30);
  EXPECT_EQ(done.last_step().method(), cpb::AUTH_METHOD_TOTP);
  EXPECT_TRUE(Contains(MethodsClaim(done.session().token()), "totp"));
  opb::ValidateSessionResponse claims;
  s = testing::ValidateSession(cluster().sessions(), done.session().token(), &claims);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(claims.level(), 30);
  EXPECT_NE(std::find(claims.methods().begin(), claims.methods().end(), cpb::AUTH_METHOD_TOTP),
            claims.methods().end());

  // The same code again: a replay, a rejected TOTP step.
  opb::LoginState again = AfterPassword();
  opb::LoginState replayed;
  s = testing::SubmitTotp(cluster().logins(), again.login_id(), code, &replayed);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(replayed.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(replayed.last_step().method(), cpb::AUTH_METHOD_TOTP);
  EXPECT_EQ(replayed.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
}

TEST_F(MethodsTest, PasswordAndARecoveryCodeLogInAndTheUserIsTold) {
  EXPECT_FALSE(Offers(AfterPassword(), cpb::AUTH_METHOD_RECOVERY_CODE));

  credpb::GenerateRecoveryCodesRequest generate;
  generate.set_user_id(user_.id);
  credpb::GenerateRecoveryCodesResponse codes;
  grpc::Status s = cluster().users().GenerateRecoveryCodes(testing::NewContext(token_).get(),
                                                           generate, &codes);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  ASSERT_EQ(codes.codes_size(), 10);

  const size_t mark = cluster().OutboxMark();
  opb::LoginState login = AfterPassword();
  ASSERT_TRUE(Offers(login, cpb::AUTH_METHOD_RECOVERY_CODE));
  opb::LoginState done;
  s = testing::SubmitRecoveryCode(cluster().logins(), login.login_id(), codes.codes(3), &done);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  ASSERT_EQ(done.status(), opb::LOGIN_STATUS_SUCCEEDED);
  EXPECT_EQ(done.score(), 30);
  ASSERT_TRUE(done.has_recovery_codes_left());
  EXPECT_EQ(done.recovery_codes_left(), 9);
  EXPECT_TRUE(Contains(MethodsClaim(done.session().token()), "recovery_code"));
  const std::string notice =
      cluster().WaitForMessage(mark, "email", user_.email, [](const std::string& text) {
        return absl::StrContains(absl::AsciiStrToLower(text), "recovery code");
      });
  EXPECT_FALSE(notice.empty()) << "the user was not told that a recovery code was used";

  // The same code again: used, a rejected RECOVERY_CODE step.
  opb::LoginState again = AfterPassword();
  opb::LoginState used;
  s = testing::SubmitRecoveryCode(cluster().logins(), again.login_id(), codes.codes(3), &used);
  ASSERT_TRUE(s.ok()) << testing::Describe(s);
  EXPECT_EQ(used.status(), opb::LOGIN_STATUS_IN_PROGRESS);
  EXPECT_EQ(used.last_step().method(), cpb::AUTH_METHOD_RECOVERY_CODE);
  EXPECT_EQ(used.last_step().outcome(), opb::STEP_OUTCOME_REJECTED);
  EXPECT_FALSE(used.has_recovery_codes_left());
}

}  // namespace
}  // namespace tally
