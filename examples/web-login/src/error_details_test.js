'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { decodeErrorDetails, loadRoot } = require('./error_details');

const GOOGLEAPIS = '/usr/share/gocode/src/github.com/gogo/googleapis';

test('grpc-status-details-bin: ErrorInfo reason, BadRequest fields, RetryInfo delay', () => {
  const root = loadRoot(GOOGLEAPIS);
  assert.ok(root, 'google/rpc protos missing: install golang-github-gogo-googleapis-dev');
  const any = (type, value) => ({ type_url: `type.googleapis.com/${type}`,
    value: root.lookupType(type).encode(value).finish() });
  const status = root.lookupType('google.rpc.Status').encode({
    code: 9, message: 'refused',
    details: [
      any('google.rpc.ErrorInfo', { reason: 'SETTINGS_UNSATISFIABLE', domain: 'tally' }),
      any('google.rpc.BadRequest', { field_violations: [{ field: 'settings.required_level', description: 'too high' }] }),
      any('google.rpc.RetryInfo', { retry_delay: { seconds: 12, nanos: 500000000 } }),
      { type_url: 'type.googleapis.com/unknown.Type', value: Buffer.from([1, 2]) },
    ],
  }).finish();
  const metadata = { get: (key) => (key === 'grpc-status-details-bin' ? [Buffer.from(status)] : []) };
  assert.deepEqual(decodeErrorDetails(metadata, GOOGLEAPIS), {
    reason: 'SETTINGS_UNSATISFIABLE', domain: 'tally',
    fieldViolations: [{ field: 'settings.required_level', description: 'too high' }],
    retryDelaySeconds: 12.5,
  });
});

test('no trailer, no details', () => {
  assert.deepEqual(decodeErrorDetails({ get: () => [] }, GOOGLEAPIS), {});
  assert.deepEqual(decodeErrorDetails(undefined, GOOGLEAPIS), {});
});
