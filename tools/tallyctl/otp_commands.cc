#include "tools/tallyctl/otp_commands.h"

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/grpc_status.h"
#include "common/util/proto_time.h"
#include "tally/otp/v1/otp.grpc.pb.h"

ABSL_FLAG(std::string, channel, "", "otp send|notice: sms or email.");
ABSL_FLAG(std::string, destination, "",
          "otp send|notice: E.164 phone number (sms) or e-mail address (email).");
ABSL_FLAG(bool, proven, false,
          "otp send: the login has proven a factor (the normal caps apply instead of the "
          "budgets before proof).");
ABSL_FLAG(std::string, kind, "",
          "otp notice: contact-changed, recovery-code-used or device-remembered.");
ABSL_FLAG(std::string, page_token, "", "otp dead-letters: the page after an earlier one.");
// Defined with the directory commands; here it bounds `otp dead-letters`.
ABSL_DECLARE_FLAG(int, page_size);

namespace tally::cli {
namespace {

namespace pb = ::tally::otp::v1;

constexpr int kOtpPort = 50053;

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProtoTime(t), absl::UTCTimeZone());
}

std::string Lower(const std::string& enum_name, absl::string_view prefix) {
  std::string name = enum_name;
  if (name.rfind(std::string(prefix), 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

// --channel and --destination of `otp send` and `otp notice`.
absl::StatusOr<pb::Channel> ChannelAndDestination() {
  const std::string channel_name = absl::GetFlag(FLAGS_channel);
  pb::Channel channel = pb::CHANNEL_UNSPECIFIED;
  if (channel_name == "sms") channel = pb::CHANNEL_SMS;
  else if (channel_name == "email") channel = pb::CHANNEL_EMAIL;
  else return UsageError("--channel must be sms or email");
  if (absl::GetFlag(FLAGS_destination).empty()) return UsageError("--destination is required");
  return channel;
}

absl::Status OtpSend(CommandContext& ctx) {
  absl::StatusOr<pb::Channel> channel = ChannelAndDestination();
  if (!channel.ok()) return channel.status();
  const std::string channel_name = absl::GetFlag(FLAGS_channel);
  auto stub = pb::OtpService::NewStub(ctx.Channel(kOtpPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::SendCodeRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_user_id(ctx.args()[1]);
  request.set_channel(*channel);
  request.set_destination(absl::GetFlag(FLAGS_destination));
  request.set_proven(absl::GetFlag(FLAGS_proven));
  pb::SendCodeResponse response;
  if (auto s = FromGrpcStatus(stub->SendCode(&context, request, &response)); !s.ok()) return s;
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "challenge     " << response.challenge_id() << "\nsent to       "
              << response.masked_destination() << " (" << channel_name << ")\nexpires       "
              << Time(response.expire_time()) << "\nresend after  " << Time(response.resend_after())
              << "\n";
  }
  return absl::OkStatus();
}

absl::Status OtpVerify(CommandContext& ctx) {
  auto stub = pb::OtpService::NewStub(ctx.Channel(kOtpPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::VerifyCodeRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_challenge_id(ctx.args()[1]);
  request.set_code(ctx.args()[2]);
  pb::VerifyCodeResponse response;
  if (auto s = FromGrpcStatus(stub->VerifyCode(&context, request, &response)); !s.ok()) return s;
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "result         " << Lower(pb::VerifyResult_Name(response.result()), "VERIFY_RESULT_")
              << "\nattempts left  " << response.attempts_left() << "\n";
    if (!response.user_id().empty()) {
      ctx.out() << "user           " << response.user_id() << " ("
                << Lower(pb::Channel_Name(response.channel()), "CHANNEL_") << ")\n";
    }
  }
  return absl::OkStatus();
}

absl::Status OtpNotice(CommandContext& ctx) {
  absl::StatusOr<pb::Channel> channel = ChannelAndDestination();
  if (!channel.ok()) return channel.status();
  pb::NoticeKind kind = pb::NOTICE_KIND_UNSPECIFIED;
  const std::string kind_name = absl::GetFlag(FLAGS_kind);
  if (kind_name == "contact-changed") kind = pb::NOTICE_CONTACT_CHANGED;
  else if (kind_name == "recovery-code-used") kind = pb::NOTICE_RECOVERY_CODE_USED;
  else if (kind_name == "device-remembered") kind = pb::NOTICE_DEVICE_REMEMBERED;
  else return UsageError("--kind must be contact-changed, recovery-code-used or device-remembered");
  auto stub = pb::OtpService::NewStub(ctx.Channel(kOtpPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::SendNoticeRequest request;
  request.set_directory_id(ctx.args()[0]);
  request.set_channel(*channel);
  request.set_destination(absl::GetFlag(FLAGS_destination));
  request.set_kind(kind);
  pb::SendNoticeResponse response;
  if (auto s = FromGrpcStatus(stub->SendNotice(&context, request, &response)); !s.ok()) return s;
  if (ctx.options().json) {
    ctx.PrintJson(response);
  } else {
    ctx.out() << "notice queued (" << kind_name << ", " << absl::GetFlag(FLAGS_channel) << ")\n";
  }
  return absl::OkStatus();
}

absl::Status OtpDeadLetters(CommandContext& ctx) {
  auto stub = pb::OtpService::NewStub(ctx.Channel(kOtpPort));
  grpc::ClientContext context;
  ctx.Prepare(context);
  pb::ListDeadLettersRequest request;
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  request.set_page_token(absl::GetFlag(FLAGS_page_token));
  pb::ListDeadLettersResponse response;
  if (auto s = FromGrpcStatus(stub->ListDeadLetters(&context, request, &response)); !s.ok()) {
    return s;
  }
  if (ctx.options().json) {
    ctx.PrintJson(response);
    return absl::OkStatus();
  }
  for (const pb::DeadLetter& d : response.dead_letters()) {
    ctx.out() << Time(d.time()) << "  " << d.directory_id() << "  " << d.challenge_id() << "  "
              << Lower(pb::Channel_Name(d.channel()), "CHANNEL_") << " "
              << d.masked_destination() << "  " << (d.provider().empty() ? "-" : d.provider())
              << "  attempts " << d.attempts() << "\n  " << d.reason() << "\n";
  }
  ctx.out() << response.dead_letters_size() << " dead letter"
            << (response.dead_letters_size() == 1 ? "" : "s") << "\n";
  if (!response.next_page_token().empty()) {
    ctx.out() << "more: --page_token " << response.next_page_token() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterOtpCommands(CommandRegistry& registry) {
  registry.Add({"otp", "send",
                "otp send DIRECTORY_ID USER_ID --channel sms|email --destination DEST [--proven]",
                2, 2, OtpSend});
  registry.Add({"otp", "verify", "otp verify DIRECTORY_ID CHALLENGE_ID CODE", 3, 3, OtpVerify});
  registry.Add({"otp", "notice",
                "otp notice DIRECTORY_ID --channel sms|email --destination DEST --kind "
                "contact-changed|recovery-code-used|device-remembered",
                1, 1, OtpNotice});
  registry.Add({"otp", "dead-letters",
                "otp dead-letters [--page_size N] [--page_token T]   (platform key)", 0, 0,
                OtpDeadLetters});
}

}  // namespace tally::cli
