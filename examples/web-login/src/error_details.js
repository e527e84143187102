'use strict';
// gRPC's richer error model (API.md "Errors carry details"): a google.rpc.Status in the
// `grpc-status-details-bin` trailer carrying ErrorInfo (reason), BadRequest (which field) and
// RetryInfo (when to retry). The google/rpc protos come from Debian's
// golang-github-gogo-googleapis-dev, as Tally's own build uses them.
const fs = require('node:fs');
const path = require('node:path');
const protobuf = require('protobufjs');

let root = null;

function loadRoot(googleapisDir) {
  if (root) return root;
  const files = ['google/rpc/status.proto', 'google/rpc/error_details.proto']
    .map((f) => path.join(googleapisDir, f));
  if (!files.every((f) => fs.existsSync(f))) return null;
  const r = new protobuf.Root();
  // google/protobuf/*.proto come with protobufjs; google/rpc/* from googleapisDir.
  r.resolvePath = (origin, target) => {
    if (target.startsWith('google/protobuf/')) return target;
    return path.isAbsolute(target) ? target : path.join(googleapisDir, target);
  };
  r.loadSync(files, { keepCase: true });
  root = r;
  return root;
}

// → { reason, domain, fieldViolations: [{field, description}], retryDelaySeconds } with only
// what the trailer holds; {} without a trailer.
function decodeErrorDetails(metadata, googleapisDir) {
  const raw = metadata && metadata.get('grpc-status-details-bin');
  if (!raw || raw.length === 0) return {};
  const r = loadRoot(googleapisDir);
  if (!r) return {};
  const status = r.lookupType('google.rpc.Status').decode(raw[0]);
  const out = {};
  for (const any of status.details || []) {
    const typeName = String(any.type_url).split('/').pop();
    let type;
    try {
      type = r.lookupType(typeName);
    } catch {
      continue;  // a detail type we do not know
    }
    const detail = type.toObject(type.decode(any.value), { longs: Number, defaults: true });
    if (typeName === 'google.rpc.ErrorInfo') {
      out.reason = detail.reason;
      out.domain = detail.domain;
    } else if (typeName === 'google.rpc.BadRequest') {
      out.fieldViolations = (detail.field_violations || [])
        .map((v) => ({ field: v.field, description: v.description }));
    } else if (typeName === 'google.rpc.RetryInfo' && detail.retry_delay) {
      out.retryDelaySeconds = Number(detail.retry_delay.seconds || 0) +
        Number(detail.retry_delay.nanos || 0) / 1e9;
    }
  }
  return out;
}

module.exports = { decodeErrorDetails, loadRoot };
