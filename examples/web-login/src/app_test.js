'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { settingsRefusal, fieldRefusal } = require('./app');
const { TallyError, Status } = require('./tally');

const METHODS = ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_SMS_OTP', 'AUTH_METHOD_EMAIL_OTP', 'AUTH_METHOD_PASSKEY'];
const refused = (code, message, details = {}) => new TallyError({ code, details: message }, details);

test('refused settings: the reason next to the field BadRequest names', () => {
  const r = settingsRefusal(refused(Status.FAILED_PRECONDITION, 'sum 50 < 60', {
    reason: 'SETTINGS_NEW_USER_LOCKED_OUT',
    fieldViolations: [{ field: 'settings.method_points[AUTH_METHOD_SMS_OTP].points', description: 'd' }],
  }), METHODS);
  assert.deepEqual(Object.keys(r.fieldErrors), ['points-AUTH_METHOD_SMS_OTP']);
  assert.match(r.fieldErrors['points-AUTH_METHOD_SMS_OTP'], /New users could not sign in.*sum 50 < 60/);
  assert.equal(r.reason, 'SETTINGS_NEW_USER_LOCKED_OUT');
  const level = settingsRefusal(refused(Status.FAILED_PRECONDITION, 'x', {
    reason: 'SETTINGS_UNSATISFIABLE', fieldViolations: [{ field: 'settings.required_level' }] }), METHODS);
  assert.deepEqual(Object.keys(level.fieldErrors), ['required_level']);
  assert.match(level.fieldErrors.required_level, /Nobody could sign in/);
  const points = settingsRefusal(refused(Status.FAILED_PRECONDITION, 'x', {
    reason: 'SETTINGS_NEW_USER_LOCKED_OUT', fieldViolations: [{ field: 'settings.method_points' }] }), METHODS);
  assert.deepEqual(Object.keys(points.fieldErrors), ['method_points']);
});

test('refused settings without details: Tally\'s message at the required level', () => {
  const r = settingsRefusal(refused(Status.FAILED_PRECONDITION, 'unsatisfiable settings: 70 < 80'), METHODS);
  assert.deepEqual(r.fieldErrors, { required_level: 'Tally refused these settings: unsatisfiable settings: 70 < 80.' });
  assert.equal(settingsRefusal(refused(Status.UNAVAILABLE, 'down'), METHODS), null);
});

test('field refusals: BadRequest fields, else the message on top; other errors are no refusal', () => {
  const r = fieldRefusal(refused(Status.INVALID_ARGUMENT, 'bad', {
    fieldViolations: [{ field: 'phone_number', description: 'not E.164' }] }), ['email', 'phone_number']);
  assert.deepEqual(r.fieldErrors, { phone_number: 'not E.164' });
  assert.deepEqual(fieldRefusal(refused(Status.INVALID_ARGUMENT, 'bad e-mail'), ['email']),
    { error: 'Tally refused this: bad e-mail.', fieldErrors: {} });
  assert.equal(fieldRefusal(refused(Status.PERMISSION_DENIED, 'no'), ['email']), null);
  assert.equal(fieldRefusal(new Error('x'), ['email']), null);
});
