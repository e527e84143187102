#include "common/testing/fake_gateway.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace tally::testing {
namespace {

// What services/otp/curl_providers.cc posts.
std::string Message(const std::string& to, const std::string& code) {
  return absl::StrCat(R"({"to":")", to, R"(","text":"Your verification code is )", code,
                      R"(. It expires in 5 minutes."})");
}

std::string PostText(const std::string& token, const std::string& body, bool keep_alive,
                     const std::string& method = "POST") {
  return absl::StrFormat(
      "%s /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
      "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n%s",
      method, token, body.size(), keep_alive ? "keep-alive" : "close", body);
}

// POST `body` on a connection of its own; the HTTP status, -1 when the connection failed.
int Post(int port, const std::string& token, const std::string& body,
         const std::string& method = "POST") {
  char error[256] = {0};
  mg_connection* connection =
      mg_download("127.0.0.1", port, 0, error, sizeof error, "%s",
                  PostText(token, body, false, method).c_str());
  if (connection == nullptr) return -1;
  const int status = mg_get_response_info(connection)->status_code;
  mg_close_connection(connection);
  return status;
}

TEST(FakeGatewayTest, ExtractsTheCodeFromEveryMessageShape) {
  EXPECT_EQ(ExtractCode("Your verification code is 123456. It expires in 5 minutes."), "123456");
  EXPECT_EQ(ExtractCode("Hello,\r\n\r\nYour verification code is: 654321\r\n"), "654321");
  EXPECT_EQ(ExtractCode("Je verificatiecode is 000123. Geldig: 5 minuten."), "000123");
  // Digits elsewhere (a destination, a lifetime) are not the code.
  EXPECT_EQ(ExtractCode("Sent to +31612345678, 5 minutes"), "");
  EXPECT_EQ(ExtractCode("code is 1234567"), "");
  EXPECT_EQ(ExtractCode("code is 12345"), "");
}

TEST(FakeGatewayTest, ChecksTheTokenAndHandsACodeToTheOneExpectingIt) {
  FakeGateway::Options options;
  options.token = "gateway-token";
  FakeGateway gateway(options);
  ASSERT_TRUE(gateway.Start().ok());
  ASSERT_GT(gateway.port(), 0);
  const int port = gateway.port();
  EXPECT_EQ(Post(port, "gateway-token", Message("+31600000001", "111111")), 200);
  EXPECT_EQ(gateway.counts().unexpected, 1);  // nobody expected it

  gateway.Expect("+31600000002");
  EXPECT_EQ(Post(port, "nope", Message("+31600000002", "987654")), 401);
  EXPECT_EQ(Post(port, "gateway-token", R"({"to":"+31600000002","text":"no code"})"), 400);
  EXPECT_EQ(Post(port, "gateway-token", "not json"), 400);
  EXPECT_EQ(Post(port, "gateway-token", Message("+31600000002", "987654"), "PUT"), 405);
  EXPECT_FALSE(gateway.Wait("+31600000002", absl::Milliseconds(1)).has_value());

  gateway.Expect("+31600000002");
  std::thread post(
      [&] { EXPECT_EQ(Post(port, "gateway-token", Message("+31600000002", "222222")), 200); });
  std::optional<std::string> code = gateway.Wait("+31600000002", absl::Seconds(30));
  post.join();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, "222222");
  EXPECT_EQ(gateway.counts().delivered, 1);
  EXPECT_EQ(gateway.counts().requests, 6);
  EXPECT_EQ(gateway.counts().rejected, 4);

  // A new Expect drops a code nobody took.
  gateway.Expect("a@example.org");
  EXPECT_EQ(Post(port, "gateway-token", Message("a@example.org", "333333")), 200);
  gateway.Expect("a@example.org");
  EXPECT_FALSE(gateway.Wait("a@example.org", absl::Milliseconds(1)).has_value());

  // A second gateway on the same port is refused.
  FakeGateway::Options same_port;
  same_port.listen = absl::StrCat("127.0.0.1:", port);
  FakeGateway other(same_port);
  EXPECT_FALSE(other.Start().ok());
}

TEST(FakeGatewayTest, AnswersScriptedThenPerDestinationThenDefaultStatuses) {
  FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  gateway.ScriptStatuses({500, 503});
  gateway.SetStatus("+31600000003", 429);
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000003", "100001")), 500);
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000004", "100002")), 503);
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000003", "100003")), 429);
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000004", "100004")), 200);
  gateway.SetDefaultStatus(502);
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000004", "100005")), 502);

  const std::vector<FakeGateway::Request> requests = gateway.Requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].path, "/v1/sms");
  EXPECT_EQ(requests[0].authorization, "Bearer any");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].to, "+31600000003");
  EXPECT_EQ(requests[0].body, Message("+31600000003", "100001"));
  EXPECT_EQ(gateway.Count("+31600000003", 500), 1);
  EXPECT_EQ(gateway.Count("+31600000003", 429), 1);
  EXPECT_EQ(gateway.Count("+31600000004", 200), 1);
  // Only a 2xx answer delivered a code.
  EXPECT_EQ(gateway.DeliveredCode("+31600000004"), "100004");
  EXPECT_EQ(gateway.DeliveredCode("+31600000004", 4), "");
  EXPECT_EQ(gateway.DeliveredCode("+31600000003"), "");
}

TEST(FakeGatewayTest, StopRefusesConnectionsAndStartServesOnTheSamePort) {
  FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  const int port = gateway.port();
  EXPECT_EQ(gateway.url("/sms"), absl::StrCat("http://127.0.0.1:", port, "/sms"));
  gateway.Stop();
  EXPECT_EQ(Post(port, "any", Message("+31600000005", "123123")), -1);
  ASSERT_TRUE(gateway.Start().ok());
  EXPECT_EQ(gateway.port(), port);
  EXPECT_EQ(Post(port, "any", Message("+31600000005", "123123")), 200);
  EXPECT_EQ(gateway.DeliveredCode("+31600000005"), "123123");
}

TEST(FakeGatewayTest, KeepsAConnectionAliveAcrossRequestsWhateverTheirStatus) {
  FakeGateway gateway;
  ASSERT_TRUE(gateway.Start().ok());
  gateway.ScriptStatuses({500});
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(gateway.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  // Two requests on one connection, the first answered 500; the second closes it.
  const std::string both = PostText("any", Message("+31600000006", "111111"), true) +
                           PostText("any", Message("+31600000006", "222222"), false);
  ASSERT_EQ(write(fd, both.data(), both.size()), static_cast<ssize_t>(both.size()));
  std::string answers;
  char buffer[1024];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) answers.append(buffer, n);
  close(fd);
  EXPECT_NE(answers.find("HTTP/1.1 500"), std::string::npos) << answers;
  EXPECT_NE(answers.find("HTTP/1.1 200"), std::string::npos) << answers;
  const std::vector<FakeGateway::Request> requests = gateway.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].client_port, requests[1].client_port);
  EXPECT_EQ(gateway.DeliveredCode("+31600000006"), "222222");
}

TEST(FakeGatewayTest, RecordsNothingWhenAskedNotTo) {
  FakeGateway::Options options;
  options.record = false;
  FakeGateway gateway(options);
  ASSERT_TRUE(gateway.Start().ok());
  gateway.Expect("+31600000007");
  EXPECT_EQ(Post(gateway.port(), "any", Message("+31600000007", "444444")), 200);
  EXPECT_EQ(gateway.Wait("+31600000007", absl::Seconds(30)), "444444");
  EXPECT_TRUE(gateway.Requests().empty());
  EXPECT_EQ(gateway.counts().requests, 1);
}

}  // namespace
}  // namespace tally::testing
