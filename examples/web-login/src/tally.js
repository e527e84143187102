'use strict';
// Tally's gRPC API, from its own proto/ files loaded at start-up (no generated code): one
// promise-returning function per RPC, with a deadline, and the caller's session token as
// `authorization: Bearer` metadata when given.
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { decodeErrorDetails } = require('./error_details');

const PROTO_FILES = [
  'tally/orchestrator/v1/orchestrator.proto',
  'tally/policy/v1/policy.proto',
  'tally/credential/v1/credential.proto',
  'tally/passkey/v1/passkey.proto',
];

// Plain JS objects: enums by name, 64-bit integers as strings, every field present.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

class TallyError extends Error {
  constructor(grpcError, details) {
    super(grpcError.details || grpcError.message);
    this.code = grpcError.code;
    this.codeName = grpc.status[grpcError.code] || String(grpcError.code);
    // Decoded google.rpc.Status details: { reason, fieldViolations: [{field, description}],
    // retryDelaySeconds } (empty when the service sent none).
    this.details = details;
  }
}

class Tally {
  constructor(config) {
    this.timeoutMs = config.rpc_timeout * 1000;
    this.googleapisDir = config.googleapis_dir;
    this.packageDefinition = protoLoader.loadSync(
      PROTO_FILES, { ...LOADER_OPTIONS, includeDirs: [path.resolve(config.proto_dir)] });
    const api = grpc.loadPackageDefinition(this.packageDefinition);
    const credentials = config.tls_ca
      ? grpc.credentials.createSsl(
        fs.readFileSync(config.tls_ca),
        config.tls_key ? fs.readFileSync(config.tls_key) : null,
        config.tls_cert ? fs.readFileSync(config.tls_cert) : null)
      : grpc.credentials.createInsecure();
    const v1 = (pkg) => api.tally[pkg].v1;
    this.clients = {
      logins: new (v1('orchestrator').LoginService)(config.orchestrator_addr, credentials),
      sessions: new (v1('orchestrator').SessionService)(config.orchestrator_addr, credentials),
      directories: new (v1('policy').DirectoryService)(config.policy_addr, credentials),
      policies: new (v1('policy').PolicyService)(config.policy_addr, credentials),
      users: new (v1('credential').CredentialService)(config.credential_addr, credentials),
      passkeys: new (v1('passkey').PasskeyService)(config.passkey_addr, credentials),
    };
  }

  // The values of a proto enum, e.g. enumValues('tally.common.v1.AuthMethod'), in number
  // order, without the *_UNSPECIFIED zero: methods added to the proto later show up by themselves.
  enumValues(fullName) {
    const type = this.packageDefinition[fullName];
    if (!type || !type.type || !type.type.value) return [];
    return type.type.value.filter((v) => v.number !== 0).sort((a, b) => a.number - b.number)
      .map((v) => v.name);
  }

  // Whether message `fullName` (e.g. 'tally.policy.v1.GetAuthSettingsResponse') has `field`:
  // pages use fields of newer protos only where they exist.
  hasField(fullName, field) {
    const type = this.packageDefinition[fullName];
    return Boolean(type && type.type && type.type.field.some((f) => f.name === field));
  }

  // call('logins', 'StartLogin', request, token?) → response, or throws a TallyError.
  call(client, method, request, token) {
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve, reject) => {
      this.clients[client][method](request, metadata, { deadline }, (err, response) => {
        if (!err) return resolve(response);
        let details = {};
        try {
          details = decodeErrorDetails(err.metadata, this.googleapisDir);
        } catch {
          // Undecodable details: the status code and message still say what happened.
        }
        reject(new TallyError(err, details));
      });
    });
  }

  close() {
    for (const client of Object.values(this.clients)) client.close();
  }
}

module.exports = { Tally, TallyError, Status: grpc.status };
