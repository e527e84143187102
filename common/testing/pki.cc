#include "common/testing/pki.h"

#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/testing/test_support.h"

namespace tally::testing {

absl::Status Pki::MakeCa(const std::string& name) {
  return Run({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-days", "2", "-subj", absl::StrCat("/CN=", name), "-keyout",
              Path(name + ".key"), "-out", Path(name + ".pem")});
}

std::string Pki::ServiceSan(const std::string& service) {
  return absl::StrCat("URI:spiffe://tally/", service);
}

absl::Status Pki::MakeCert(const std::string& name, const std::string& ca,
                           const std::vector<std::string>& sans) {
  absl::Status s = Run({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-subj", absl::StrCat("/CN=", name), "-keyout",
                        Path(name + ".key"), "-out", Path(name + ".csr")});
  if (!s.ok()) return s;
  std::ofstream(Path(name + ".ext"))
      << "subjectAltName=" << absl::StrJoin(sans, ",") << (sans.empty() ? "" : ",")
      << "DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
  return Run({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca + ".pem"), "-CAkey",
              Path(ca + ".key"), "-CAcreateserial", "-days", "2", "-extfile",
              Path(name + ".ext"), "-out", Path(name + ".pem")});
}

absl::Status Pki::MakeSigningKey(const std::string& name) {
  return Run({"genpkey", "-algorithm", "ed25519", "-out", Path(name + ".key")});
}

std::string Pki::Read(const std::string& file) const {
  std::ifstream in(Path(file));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status Pki::Run(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  CommandResult result = RunCommand(args);
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("openssl ", args[1], " failed: ", result.output));
  }
  return absl::OkStatus();
}

}  // namespace tally::testing
