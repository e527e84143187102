#pragma once

#include <memory>

#include "common/auth/caller.h"
#include "services/passkey/passkey_manager.h"
#include "tally/passkey/v1/passkey.grpc.pb.h"

namespace tally::passkey {

// gRPC adapter: authenticate the call, hand it to PasskeyManager, convert the status.
class PasskeyServiceImpl final : public pb::PasskeyService::Service {
 public:
  PasskeyServiceImpl(PasskeyManager& manager, std::shared_ptr<const Authenticator> auth);

  grpc::Status StartRegistration(grpc::ServerContext* context,
                                 const pb::StartRegistrationRequest* request,
                                 pb::StartRegistrationResponse* response) override;
  grpc::Status FinishRegistration(grpc::ServerContext* context,
                                  const pb::FinishRegistrationRequest* request,
                                  pb::FinishRegistrationResponse* response) override;
  grpc::Status StartAuthentication(grpc::ServerContext* context,
                                   const pb::StartAuthenticationRequest* request,
                                   pb::StartAuthenticationResponse* response) override;
  grpc::Status FinishAuthentication(grpc::ServerContext* context,
                                    const pb::FinishAuthenticationRequest* request,
                                    pb::FinishAuthenticationResponse* response) override;
  grpc::Status ListPasskeys(grpc::ServerContext* context, const pb::ListPasskeysRequest* request,
                            pb::ListPasskeysResponse* response) override;
  grpc::Status DeletePasskey(grpc::ServerContext* context,
                             const pb::DeletePasskeyRequest* request,
                             pb::DeletePasskeyResponse* response) override;

 private:
  PasskeyManager& manager_;
  std::shared_ptr<const Authenticator> auth_;
};

}  // namespace tally::passkey
