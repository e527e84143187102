// Hostile input (issue 9): every RPC of every Tally service, found in the generated descriptors
// (so a new RPC or field is covered without touching this file), is called over the real
// cluster with raw request bytes: the empty message, random bytes, each string field at 1 MB,
// invalid UTF-8 in each string field, unknown numbers in each enum field, random bytes in each
// bytes field, and realistic-but-bogus ids. Each case goes out unauthenticated, with the platform
// key and with a directory admin's session token. Every answer must be a clean status (never
// INTERNAL or UNKNOWN, never an outage), echo no secret, and leave the stored directories,
// users, passkeys, settings and audit untouched; every process must still be SERVING at the end.

#include <algorithm>
#include <iostream>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/testing/test_support.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster.h"
#include "tests/cluster/logins.h"

namespace tally {
namespace {

namespace pb = ::google::protobuf;
namespace credpb = ::tally::credential::v1;
namespace opb = ::tally::orchestrator::v1;
namespace pkpb = ::tally::passkey::v1;
namespace polpb = ::tally::policy::v1;
using testing::Cluster;
using testing::NewContext;

// A leaf field reached from the request through sub-messages (index 0 of repeated ones).
using FieldPath = std::vector<const pb::FieldDescriptor*>;

// 1 MB that is easy to spot if a server echoes it.
constexpr char kFillerUnit[] = "hostile-1mb-secret/";
// Values the filled requests carry that must never come back.
constexpr char kBasePassword[] = "Hostile base password 7c1e!";
constexpr char kBaseCode[] = "481516";
// Stands for a string field's value in the serialized request; replaced byte for byte with
// invalid UTF-8 of the same length, since the C++ serializer refuses to write it.
constexpr char kUtf8Marker[] = "@@utf8-marker@@!";
const std::string& InvalidUtf8() {
  // A lone continuation byte, a truncated 2-byte sequence, an overlong '/', a UTF-16 surrogate
  // and 0xff; padded to the marker's length.
  static const std::string* value = [] {
    std::string s = "\x80\xc3\x28\xc0\xaf\xed\xa0\x80\xff\xfe";
    s.resize(sizeof(kUtf8Marker) - 1, 'x');
    return new std::string(s);
  }();
  return *value;
}

// Every service of the Tally API files, and the cluster process that serves it.
struct Target {
  const pb::ServiceDescriptor* service;
  std::string process;
};

std::vector<Target> Targets() {
  const std::vector<std::pair<const pb::FileDescriptor*, std::string>> files = {
      {polpb::Directory::descriptor()->file(), "policy"},
      {credpb::User::descriptor()->file(), "credential"},
      {otp::v1::SendCodeRequest::descriptor()->file(), "otp"},
      {pkpb::Passkey::descriptor()->file(), "passkey"},
      {opb::LoginState::descriptor()->file(), "orchestrator-a"}};
  std::vector<Target> targets;
  for (const auto& [file, process] : files) {
    // The descriptors come from the generated pool: the files the binaries are built from.
    EXPECT_EQ(pb::DescriptorPool::generated_pool()->FindFileByName(file->name()), file);
    for (int i = 0; i < file->service_count(); ++i) targets.push_back({file->service(i), process});
  }
  return targets;
}

bool IsTallyMessage(const pb::FieldDescriptor* field) {
  return field->type() == pb::FieldDescriptor::TYPE_MESSAGE &&
         absl::StartsWith(field->message_type()->full_name(), "tally.");
}

// Leaves (strings, bytes, enums) of `descriptor`, through Tally sub-messages.
void CollectLeaves(const pb::Descriptor* descriptor, FieldPath prefix, int depth,
                   std::vector<FieldPath>* out) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    FieldPath path = prefix;
    path.push_back(field);
    switch (field->type()) {
      case pb::FieldDescriptor::TYPE_STRING:
      case pb::FieldDescriptor::TYPE_BYTES:
      case pb::FieldDescriptor::TYPE_ENUM:
        out->push_back(path);
        break;
      case pb::FieldDescriptor::TYPE_MESSAGE:
        if (IsTallyMessage(field) && depth < 4) {
          CollectLeaves(field->message_type(), path, depth + 1, out);
        }
        break;
      default:
        break;
    }
  }
}

std::string PathName(const FieldPath& path) {
  std::vector<std::string> names;
  for (const pb::FieldDescriptor* f : path) names.push_back(f->name());
  return absl::StrJoin(names, ".");
}

// Ids and tokens from the cluster that the filled requests use.
struct World {
  std::string directory, other_directory;
  Cluster::User user, admin, other_user, other_admin;
  std::string user_token, admin_token, other_admin_token;
  std::string login_id;
};

bool IsIdLike(const pb::FieldDescriptor* field) {
  const std::string& name = field->name();
  return field->type() == pb::FieldDescriptor::TYPE_STRING &&
         (absl::EndsWith(name, "_id") || absl::EndsWith(name, "token") || name == "etag" ||
          name == "username");
}

// A realistic value for a string field, by its name: the request then passes every check but
// the one field a case breaks.
std::string RealisticValue(const pb::FieldDescriptor* field, const World& w) {
  const std::string& name = field->name();
  if (name == "directory_id") return w.directory;
  if (name == "user_id") return w.user.id;
  if (name == "username") return w.user.username;
  if (name == "email") return w.user.email;
  if (name == "phone_number" || name == "destination") return w.user.phone;
  if (absl::StrContains(name, "password")) return kBasePassword;
  if (name == "code") return kBaseCode;
  if (name == "token" || name == "session_token") return w.user_token;
  if (name == "login_id") return w.login_id;
  if (name == "roles") return "user";
  if (absl::EndsWith(name, "_json")) return "{}";
  if (name == "display_name" || name == "nickname") return "Hostile Input";
  if (absl::EndsWith(name, "_id")) return "hostile-id";
  return "hostile";
}

// Sets every leaf of `message` to a realistic value; repeated fields get one element.
void Fill(pb::Message* message, const World& w, int depth) {
  const pb::Reflection* r = message->GetReflection();
  const pb::Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    switch (f->type()) {
      case pb::FieldDescriptor::TYPE_STRING:
      case pb::FieldDescriptor::TYPE_BYTES: {
        const std::string value = RealisticValue(f, w);
        f->is_repeated() ? r->AddString(message, f, value) : r->SetString(message, f, value);
        break;
      }
      case pb::FieldDescriptor::TYPE_ENUM: {
        // The first real value (not the UNSPECIFIED zero).
        const pb::EnumDescriptor* e = f->enum_type();
        const int value = e->value_count() > 1 ? e->value(1)->number() : e->value(0)->number();
        f->is_repeated() ? r->AddEnumValue(message, f, value) : r->SetEnumValue(message, f, value);
        break;
      }
      case pb::FieldDescriptor::TYPE_INT32:
        // Settings a directory could really have (20 points of 20 required); page sizes and
        // the like stay 0 (the default).
        if (!f->is_repeated() && (f->name() == "required_level" || f->name() == "points")) {
          r->SetInt32(message, f, 20);
        }
        break;
      case pb::FieldDescriptor::TYPE_MESSAGE:
        if (IsTallyMessage(f) && depth < 4) {
          Fill(f->is_repeated() ? r->AddMessage(message, f) : r->MutableMessage(message, f), w,
               depth + 1);
        }
        break;
      default:
        break;
    }
  }
}

// The message that holds the path's leaf, inside `root` (index 0 of repeated fields).
pb::Message* Holder(pb::Message* root, const FieldPath& path) {
  pb::Message* m = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const pb::Reflection* r = m->GetReflection();
    m = path[i]->is_repeated() ? r->MutableRepeatedMessage(m, path[i], 0)
                               : r->MutableMessage(m, path[i]);
  }
  return m;
}

void SetLeafString(pb::Message* root, const FieldPath& path, const std::string& value) {
  pb::Message* m = Holder(root, path);
  const pb::FieldDescriptor* f = path.back();
  f->is_repeated() ? m->GetReflection()->SetRepeatedString(m, f, 0, value)
                   : m->GetReflection()->SetString(m, f, value);
}

void SetLeafEnum(pb::Message* root, const FieldPath& path, int value) {
  pb::Message* m = Holder(root, path);
  const pb::FieldDescriptor* f = path.back();
  f->is_repeated() ? m->GetReflection()->SetRepeatedEnumValue(m, f, 0, value)
                   : m->GetReflection()->SetEnumValue(m, f, value);
}

struct Case {
  std::string name;
  std::string payload;
  bool invalid_utf8 = false;  // must be INVALID_ARGUMENT, whoever calls
};

std::string RandomBytes(std::mt19937* rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>((*rng)() & 0xff);
  return out;
}

// Realistic-but-bogus values for an id or token field.
std::vector<std::string> BogusIds(const pb::FieldDescriptor* field, const World& w) {
  std::string near = RealisticValue(field, w);
  if (!near.empty()) near.back() = near.back() == 'a' ? 'b' : 'a';
  std::vector<std::string> ids = {
      near,
      "00000000-0000-0000-0000-000000000000",
      "../../../etc/passwd",
      "' OR '1'='1",
      "*",
      "%",
      std::string("usr_\0nul", 8),
      "id\r\nx-injected: 1",
      "\xe2\x80\xae\xf0\x9f\x94\x91",  // right-to-left override and an emoji: valid UTF-8
      // An unsigned token ("alg": "none") with a plausible payload.
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c3JfeCIsImRpciI6ImRpcl94In0."};
  // Another directory's objects: what a cross-tenant request would name.
  if (field->name() == "directory_id") ids.push_back(w.other_directory);
  if (field->name() == "user_id") ids.push_back(w.other_user.id);
  if (field->name() == "username") ids.push_back(w.other_admin.username);
  return ids;
}

std::vector<Case> CasesFor(const pb::MethodDescriptor* method, const World& w) {
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  std::vector<Case> cases;
  cases.push_back({"empty message", ""});
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(method->full_name())));
  for (size_t n : {1, 7, 64, 4096}) {
    cases.push_back({absl::StrCat("random ", n, " bytes"), RandomBytes(&rng, n)});
  }
  std::unique_ptr<pb::Message> filled(prototype->New());
  Fill(filled.get(), w, 0);

  std::vector<FieldPath> leaves;
  CollectLeaves(method->input_type(), {}, 0, &leaves);
  std::string filler;
  while (filler.size() < (1 << 20)) filler += kFillerUnit;
  filler.resize(1 << 20);
  for (const FieldPath& path : leaves) {
    const pb::FieldDescriptor* leaf = path.back();
    const std::string name = PathName(path);
    auto with = [&](auto&& mutate) {
      std::unique_ptr<pb::Message> m(filled->New());
      m->CopyFrom(*filled);
      mutate(m.get());
      return m->SerializeAsString();
    };
    if (leaf->type() == pb::FieldDescriptor::TYPE_ENUM) {
      for (int value : {99, -1, 2147483647}) {
        cases.push_back({absl::StrCat(name, " = enum ", value),
                         with([&](pb::Message* m) { SetLeafEnum(m, path, value); })});
      }
      continue;
    }
    cases.push_back({absl::StrCat(name, " = 1 MB"),
                     with([&](pb::Message* m) { SetLeafString(m, path, filler); })});
    if (leaf->type() == pb::FieldDescriptor::TYPE_BYTES) {
      cases.push_back({absl::StrCat(name, " = random bytes"), with([&](pb::Message* m) {
                         SetLeafString(m, path, RandomBytes(&rng, 64));
                       })});
      continue;
    }
    // Invalid UTF-8: the marker's bytes swapped in after serializing.
    std::string wire = with([&](pb::Message* m) { SetLeafString(m, path, kUtf8Marker); });
    const size_t at = wire.find(kUtf8Marker);
    EXPECT_NE(at, std::string::npos) << name;
    if (at != std::string::npos) {
      wire.replace(at, InvalidUtf8().size(), InvalidUtf8());
      cases.push_back({absl::StrCat(name, " = invalid UTF-8"), wire, true});
    }
    cases.push_back({absl::StrCat(name, " = empty"),
                     with([&](pb::Message* m) { SetLeafString(m, path, ""); })});
    if (IsIdLike(leaf)) {
      for (const std::string& id : BogusIds(leaf, w)) {
        cases.push_back({absl::StrCat(name, " = bogus '", absl::CHexEscape(id), "'"),
                         with([&](pb::Message* m) { SetLeafString(m, path, id); })});
      }
    }
  }
  return cases;
}

struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string text;  // everything the server said besides a response: message, details, metadata
};

Outcome Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
             const std::string& payload, const std::string& token,
             const std::string& platform_key) {
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::ClientContext> context = NewContext(token, platform_key, absl::Seconds(30));
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &reply,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  Outcome out;
  out.code = status.error_code();
  out.text = absl::StrCat(status.error_message(), "\n", status.error_details(), "\n");
  for (const auto* metadata :
       {&context->GetServerInitialMetadata(), &context->GetServerTrailingMetadata()}) {
    for (const auto& [key, value] : *metadata) {
      absl::StrAppend(&out.text, std::string(key.data(), key.size()), ": ",
                      std::string(value.data(), value.size()), "\n");
    }
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The base64 body of a PEM file, line by line (each line is key material).
std::vector<std::string> PemLines(const std::string& pem) {
  std::vector<std::string> lines;
  std::istringstream in(pem);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && !absl::StartsWith(line, "-----")) lines.push_back(line);
  }
  return lines;
}

class HostileInputTest : public testing::ClusterTest<HostileInputTest> {
 public:
  static testing::ClusterOptions Options() {
    testing::ClusterOptions options;
    options.orchestrators = 1;
    return options;
  }

 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ClusterTest::SetUp());
    // Password-only logins reach the level: tokens without OTP.
    w_.directory = cluster().CreateDirectory(polpb::TIER_PROFESSIONAL);
    w_.other_directory = cluster().CreateDirectory(polpb::TIER_PROFESSIONAL);
    w_.user = cluster().CreateUser(w_.directory, "hostile-user");
    w_.admin = cluster().CreateUser(w_.directory, "hostile-admin", {"admin"});
    w_.other_user = cluster().CreateUser(w_.other_directory, "other-user");
    w_.other_admin = cluster().CreateUser(w_.other_directory, "other-admin", {"admin"});
    w_.user_token = Login(w_.directory, w_.user.username);
    w_.admin_token = Login(w_.directory, w_.admin.username);
    w_.other_admin_token = Login(w_.other_directory, w_.other_admin.username);
    ASSERT_FALSE(w_.user_token.empty() || w_.admin_token.empty() || w_.other_admin_token.empty());
    // A login in progress, for the login_id fields.
    opb::StartLoginRequest start;
    start.set_directory_id(w_.directory);
    start.set_username(w_.user.username);
    opb::StartLoginResponse started;
    ASSERT_TRUE(cluster().logins().StartLogin(NewContext().get(), start, &started).ok());
    w_.login_id = started.state().login_id();
    std::cout << "[ world    ] directories " << w_.directory << " and " << w_.other_directory
              << "\n";

    secrets_ = {cluster().platform_key(), w_.user_token, w_.admin_token, w_.other_admin_token,
                testing::kClusterPassword, kBasePassword, kBaseCode, kFillerUnit};
    for (const char* key : {"TALLY_TOTP_ENCRYPTION_KEY", "TALLY_RECOVERY_CODE_HMAC_KEY"}) {
      secrets_.push_back(cluster().keys().Env().at(key));
    }
    for (const std::string& line : PemLines(ReadFile(cluster().keys().signing_key_path()))) {
      secrets_.push_back(line);
    }
    ASSERT_GT(secrets_.size(), 10u) << "the signing key was not readable";
  }

  std::string Login(const std::string& directory, const std::string& username) {
    opb::LoginState state;
    grpc::Status s = testing::StartLogin(cluster().logins(), directory, username, &state);
    EXPECT_TRUE(s.ok()) << s.error_message();
    s = testing::SubmitPassword(cluster().logins(), state.login_id(), testing::kClusterPassword,
                                &state);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(state.status(), opb::LOGIN_STATUS_SUCCEEDED);
    return state.session().token();
  }

  // What the hostile calls must not change, as text: directories, users, passkeys, remembered
  // devices, settings and audit of both directories, read with the platform key or the
  // directories' admins.
  std::string Snapshot() {
    std::vector<std::string> parts;
    auto check = [&](const grpc::Status& s, const std::string& what) {
      EXPECT_TRUE(s.ok()) << what << ": " << s.error_message();
    };
    std::string page;
    do {
      polpb::ListDirectoriesRequest request;
      request.set_page_token(page);
      polpb::ListDirectoriesResponse response;
      check(cluster().directories().ListDirectories(
                NewContext("", cluster().platform_key()).get(), request, &response),
            "ListDirectories");
      for (const auto& d : response.directories()) parts.push_back(d.ShortDebugString());
      page = response.next_page_token();
    } while (!page.empty());
    for (const auto& [directory, token] :
         {std::pair{w_.directory, w_.admin_token}, {w_.other_directory, w_.other_admin_token}}) {
      page.clear();
      std::vector<std::string> user_ids;
      do {
        credpb::ListUsersRequest request;
        request.set_directory_id(directory);
        request.set_page_token(page);
        credpb::ListUsersResponse response;
        check(cluster().users().ListUsers(NewContext(token).get(), request, &response),
              "ListUsers");
        for (const auto& u : response.users()) {
          parts.push_back(u.ShortDebugString());
          user_ids.push_back(u.user_id());
        }
        page = response.next_page_token();
      } while (!page.empty());
      for (const std::string& id : user_ids) {
        pkpb::ListPasskeysRequest request;
        request.set_user_id(id);
        pkpb::ListPasskeysResponse response;
        check(cluster().passkeys().ListPasskeys(NewContext(token).get(), request, &response),
              "ListPasskeys");
        parts.push_back(absl::StrCat(id, " passkeys: ", response.ShortDebugString()));
        // The TOTP app and recovery codes left are in the user above; devices are listed.
        credpb::ListDevicesRequest devices;
        devices.set_directory_id(directory);
        devices.set_user_id(id);
        credpb::ListDevicesResponse remembered;
        check(cluster().users().ListDevices(NewContext("", cluster().platform_key()).get(),
                                            devices, &remembered),
              "ListDevices");
        parts.push_back(absl::StrCat(id, " devices: ", remembered.ShortDebugString()));
      }
      polpb::GetAuthSettingsRequest settings;
      settings.set_directory_id(directory);
      polpb::GetAuthSettingsResponse current;
      check(cluster().policies().GetAuthSettings(NewContext(token).get(), settings, &current),
            "GetAuthSettings");
      parts.push_back(current.ShortDebugString());
      polpb::ListAuditEventsRequest audit;
      audit.set_directory_id(directory);
      polpb::ListAuditEventsResponse events;
      check(cluster().policies().ListAuditEvents(NewContext("", cluster().platform_key()).get(),
                                                 audit, &events),
            "ListAuditEvents");
      parts.push_back(events.ShortDebugString());
    }
    std::sort(parts.begin(), parts.end());
    return absl::StrJoin(parts, "\n");
  }

  World w_;
  std::vector<std::string> secrets_;
};

// Codes a healthy cluster may answer hostile input with. INTERNAL and UNKNOWN are bugs;
// UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED mean a process or peer broke under the input.
bool IsCleanCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

// RPCs of the contract (API.md "v1 additions") that no service implements yet, with the issue
// that brings them. They must answer UNIMPLEMENTED to anything and change nothing; one that
// answers otherwise has been implemented: take it off this list so the checks above apply.
const std::map<std::string, const char*>& NotImplementedYet() {
  static const auto* kPending = new std::map<std::string, const char*>{};
  return *kPending;
}

const char* CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "?";
}

TEST_F(HostileInputTest, EveryRpcAnswersHostileInputCleanly) {
  const std::vector<Target> targets = Targets();
  // The services the issue names are all there (more are covered automatically).
  std::set<std::string> names;
  for (const Target& t : targets) names.insert(t.service->full_name());
  for (const char* expected :
       {"tally.policy.v1.DirectoryService", "tally.policy.v1.PolicyService",
        "tally.credential.v1.CredentialService", "tally.otp.v1.OtpService",
        "tally.passkey.v1.PasskeyService", "tally.orchestrator.v1.LoginService",
        "tally.orchestrator.v1.SessionService"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }

  struct Caller {
    const char* name;
    std::string token;
    std::string platform_key;
  };
  const std::vector<Caller> callers = {{"anonymous", "", ""},
                                       {"platform", "", cluster().platform_key()},
                                       {"admin", w_.admin_token, ""}};
  std::map<std::string, std::map<std::string, int>> histogram;  // process → code → count
  int failures = 0, calls = 0, methods = 0;
  std::set<std::string> pending_unimplemented;
  std::string user_password = testing::kClusterPassword;
  std::string before = Snapshot();
  ASSERT_FALSE(HasFailure()) << "the snapshot RPCs fail";
  for (const Target& target : targets) {
    std::shared_ptr<grpc::Channel> channel = cluster().Channel(target.process);
    for (int m = 0; m < target.service->method_count(); ++m) {
      const pb::MethodDescriptor* method = target.service->method(m);
      ++methods;
      const std::string path =
          absl::StrCat("/", target.service->full_name(), "/", method->name());
      for (const Case& c : CasesFor(method, w_)) {
        bool any_ok = false;
        for (const Caller& caller : callers) {
          const Outcome out = Call(channel, path, c.payload, caller.token, caller.platform_key);
          ++calls;
          ++histogram[target.process][CodeName(out.code)];
          any_ok = any_ok || out.code == grpc::StatusCode::OK;
          // An admin may set the user's password (current_password is ignored for admins): a
          // case that breaks only that field is a valid request, and the password moves on.
          if (out.code == grpc::StatusCode::OK && absl::EndsWith(path, "/SetPassword")) {
            user_password = kBasePassword;
          }

          std::vector<std::string> problems;
          const auto pending = NotImplementedYet().find(path);
          if (pending != NotImplementedYet().end()) {
            // gRPC refuses bytes that do not parse before any handler runs.
            if (out.code == grpc::StatusCode::UNIMPLEMENTED) {
              pending_unimplemented.insert(path);
            } else if (out.code != grpc::StatusCode::INVALID_ARGUMENT) {
              problems.push_back(absl::StrCat("listed as not implemented yet (", pending->second,
                                              ") but answers: take it off NotImplementedYet()"));
            }
          } else {
            if (!IsCleanCode(out.code)) problems.push_back("unclean code");
            if (c.invalid_utf8 && out.code != grpc::StatusCode::INVALID_ARGUMENT) {
              problems.push_back("invalid UTF-8 must be INVALID_ARGUMENT");
            }
          }
          for (const std::string& secret : secrets_) {
            if (absl::StrContains(out.text, secret)) {
              problems.push_back(absl::StrCat("echoes a secret (", secret.substr(0, 12), "...)"));
            }
          }
          if (absl::StrContains(out.text, "eyJ")) problems.push_back("echoes a JWT");
          if (out.text.size() > 4096) problems.push_back("error text over 4 KB");
          if (!problems.empty() && ++failures <= 60) {
            ADD_FAILURE() << path << " [" << c.name << "] as " << caller.name << ": "
                          << CodeName(out.code) << " \"" << out.text.substr(0, 300)
                          << "\": " << absl::StrJoin(problems, "; ");
          }
        }
        // A refused call wrote nothing, not even half. An accepted one (valid input, e.g. a
        // new user with an odd but valid name) may, and the state moves on with it.
        const std::string after = Snapshot();
        if (!any_ok) {
          EXPECT_EQ(before, after) << "stored state changed by refused calls: " << path << " ["
                                   << c.name << "]";
        } else if (before != after) {
          std::cout << "[ accepted ] " << path << " [" << c.name << "] changed stored state\n";
        }
        before = after;
      }
    }
  }
  EXPECT_EQ(failures, 0) << "problems in total (first 60 shown)";
  for (const auto& [path, issue] : NotImplementedYet()) {
    EXPECT_TRUE(pending_unimplemented.count(path))
        << path << " (" << issue << ") never answered UNIMPLEMENTED: take it off NotImplementedYet()";
  }
  EXPECT_GE(methods, 36);
  for (const auto& [process, codes] : histogram) {
    std::vector<std::string> counts;
    for (const auto& [code, n] : codes) counts.push_back(absl::StrCat(code, "=", n));
    std::cout << "[ statuses ] " << process << ": " << absl::StrJoin(counts, " ") << "\n";
  }
  std::cout << "[ calls    ] " << calls << " calls to " << methods << " RPCs\n";

  // Every process survived and still serves; the users' passwords still work.
  for (const std::string& name : cluster().service_names()) {
    testing::ServiceProcess& service = cluster().service(name);
    EXPECT_FALSE(service.process().Wait(absl::ZeroDuration()).ok())
        << name << " exited:\n" << service.Output();
    if (!absl::StartsWith(name, "otp-sender")) {
      EXPECT_TRUE(cluster().Serving(name)) << name << " is not SERVING";
    }
  }
  for (const Cluster::User& user : {w_.user, w_.admin}) {
    credpb::VerifyPasswordRequest request;
    request.set_directory_id(w_.directory);
    request.set_username(user.username);
    request.set_password(user.id == w_.user.id ? user_password : testing::kClusterPassword);
    credpb::VerifyPasswordResponse response;
    grpc::Status s = cluster().users().VerifyPassword(NewContext().get(), request, &response);
    EXPECT_TRUE(s.ok()) << user.username << ": " << s.error_message();
  }
}

}  // namespace
}  // namespace tally
