'use strict';
// The app's HTTP behaviour against a fake Tally (canned LoginService answers): cookies, CSRF,
// redirects. The real cluster and browser are in tests/browser.
const test = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('./app');
const { TallyError, Status } = require('./tally');

const TOKEN = 'eyJhbGciOiJFZERTQSJ9.secret-session-token.sig';
const config = { origin: 'http://login.example', directory_id: 'dir_test', secure_cookies: false };

// overrides: { Method: (request) => answer } replacing or adding canned answers (throw a
// TallyError to refuse).
function fakeTally(overrides = {}) {
  const calls = [];
  const logs = [];
  const state = (extra) => ({ login_id: 'lgn_1', status: 'LOGIN_STATUS_IN_PROGRESS', score: 0,
    required_level: 30, completed_methods: [], offered_methods: [], ...extra });
  const answers = {
    StartLogin: () => ({ state: state() }),
    SubmitPassword: () => ({ state: state({ status: 'LOGIN_STATUS_SUCCEEDED', score: 30,
      session: { token: TOKEN, session_id: 'ses_1', expire_time: { seconds: String(Math.floor(Date.now() / 1000) + 3600), nanos: 0 } } }) }),
    ValidateSession: () => ({ session_id: 'ses_1', user_id: 'usr_1', directory_id: 'dir_test', level: 30,
      methods: ['AUTH_METHOD_PASSWORD'], roles: ['user'], auth_time: { seconds: '1', nanos: 0 }, expire_time: { seconds: '2', nanos: 0 } }),
    GetUser: () => ({ user: { user_id: 'usr_1', username: 'alice', email: '', phone_number: '', roles: ['user'] } }),
    ListPasskeys: () => ({ passkeys: [] }),
    ListTrustedDevices: () => ({ devices: [] }),
    GetAuthSettings: () => ({ settings: { required_level: 30, method_points: [] } }),
    ...overrides,
  };
  return {
    calls,
    logs,
    call: async (client, method, request, token) => {
      calls.push({ method, request, token });
      return answers[method](request);
    },
    enumValues: () => [],
  };
}

async function withServer(fn, appConfig = config, overrides = {}) {
  const tally = fakeTally(overrides);
  const server = createApp({ config: appConfig, tally, log: (line) => tally.logs.push(line) }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await fn(base, tally);
  } finally {
    server.close();
  }
}

const cookiesOf = (res) => res.headers.getSetCookie();
const jar = (setCookies) => setCookies.map((c) => c.split(';')[0]).join('; ');

test('sign-in: CSRF-checked POSTs, the token only in an HttpOnly SameSite=Strict cookie', async () => {
  await withServer(async (base, tally) => {
    const page = await fetch(`${base}/`);
    const body = await page.text();
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(body)[1];
    let cookie = jar(cookiesOf(page));
    assert.match(cookiesOf(page)[0], /HttpOnly; SameSite=Strict/);
    assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);

    const post = (path, form, headers = {}) => fetch(`${base}${path}`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
      body: new URLSearchParams(form) });

    assert.equal((await post('/login', { username: 'alice' })).status, 403, 'no CSRF token');
    assert.equal(tally.calls.length, 0, 'nothing reached Tally');

    const started = await post('/login', { username: 'alice', _csrf: csrf });
    assert.equal(started.status, 303);
    assert.equal(started.headers.get('location'), '/login');
    assert.deepEqual(tally.calls[0].request, { directory_id: 'dir_test', username: 'alice' });
    const loginCookie = cookiesOf(started).find((c) => c.startsWith('tally_login='));
    assert.match(loginCookie, /^tally_login=lgn_1; Max-Age=600; Path=\/; HttpOnly; SameSite=Strict$/);
    cookie = `${cookie}; ${jar(cookiesOf(started))}`;

    const done = await post('/login/password', { password: 'pw', _csrf: csrf });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), '/account');
    const session = cookiesOf(done).find((c) => c.startsWith('tally_session='));
    assert.match(session, /HttpOnly; SameSite=Strict/);
    assert.ok(session.includes(TOKEN));
    assert.ok(!cookiesOf(done).some((c) => c.startsWith('tally_session=') && !/HttpOnly/.test(c)));

    const account = await fetch(`${base}/account`, { headers: { cookie: `${cookie}; tally_session=${TOKEN}` } });
    assert.equal(account.status, 200);
    const html = await account.text();
    assert.ok(html.includes('Welcome, alice'));
    assert.ok(!html.includes(TOKEN), 'the token is never in a page');
    assert.equal(tally.calls.find((c) => c.method === 'GetUser').token, TOKEN, 'calls carry it as Bearer');
  });
});

test('a browser on a loopback address is sent to the configured localhost origin', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/login?x=1`, { redirect: 'manual' });
    assert.equal(res.status, 308);
    assert.equal(res.headers.get('location'), 'http://localhost:8080/login?x=1');
  }, { ...config, origin: 'http://localhost:8080' });
});

const refused = (code, message, details = {}) => new TallyError({ code, details: message }, details);

// A signed-in browser: the CSRF cookie and token of a page, and the session cookie.
async function signedIn(base) {
  const page = await fetch(`${base}/`);
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(await page.text())[1];
  const jarCookies = new Map([...cookiesOf(page), `tally_session=${TOKEN}`].map((c) => c.split(';')[0].split('=')));
  const cookie = () => [...jarCookies].filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join('; ');
  const remember = (res) => {
    for (const c of cookiesOf(res)) jarCookies.set(...c.split(';')[0].split('='));
    return res;
  };
  return {
    csrf,
    cookiesOf,
    get: async (path) => remember(await fetch(`${base}${path}`, { redirect: 'manual', headers: { cookie: cookie() } })),
    post: async (path, form) => remember(await fetch(`${base}${path}`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
      body: new URLSearchParams({ ...form, _csrf: csrf }) })),
  };
}

test('own contact change: a code to the new address first; a wrong code keeps the session', async () => {
  let confirmed = false;
  await withServer(async (base, tally) => {
    const b = await signedIn(base);
    const saved = await b.post('/profile/contact', { email: 'new@example.org', phone_number: '' });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.get('location'), '/profile/contact/confirm', 'not "saved" while pending');
    assert.match(cookiesOf(saved).find((c) => c.startsWith('tally_contact_change=')), /HttpOnly; SameSite=Strict/);

    const form = await (await b.get('/profile/contact/confirm')).text();
    assert.match(form, /by e-mail to\s+<strong>new@example\.org<\/strong>/);
    assert.match(form, /action="\/profile\/contact\/confirm"[^]*name="_csrf"/);
    assert.ok(!form.includes('chg_1'), 'the change id stays in its HttpOnly cookie');
    assert.equal((await fetch(`${base}/profile/contact/confirm`, { method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `tally_session=${TOKEN}` },
      body: 'code=123456' })).status, 403, 'no CSRF token');

    const wrong = await b.post('/profile/contact/confirm', { code: '000000' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /That code is not right\. 2 attempts left\./);
    assert.ok(!cookiesOf(wrong).some((c) => c.startsWith('tally_session=')), 'still signed in');

    const right = await b.post('/profile/contact/confirm', { code: '123 456' });
    assert.equal(right.headers.get('location'), '/profile?done=contact-changed');
    assert.ok(confirmed);
    assert.deepEqual(tally.calls.filter((c) => c.method === 'ConfirmContactChange').map((c) => c.request),
      [{ change_id: 'chg_1', code: '000000' }, { change_id: 'chg_1', code: '123456' }]);
    const page = await (await b.get('/profile?done=contact-changed')).text();
    assert.match(page, /confirmed and saved/);
    assert.ok(!page.includes('waiting for its code'));
  }, config, {
    UpdateContact: () => ({ user: { email: 'old@example.org', phone_number: '' }, pending_change_id: 'chg_1' }),
    ConfirmContactChange: ({ code }) => {
      if (code !== '123456') throw refused(Status.UNAUTHENTICATED, 'wrong code; 2 attempts left');
      confirmed = true;
      return { user: {} };
    },
  });
});

test('an expired contact change says so and asks again; nothing reads as saved', async () => {
  await withServer(async (base) => {
    const b = await signedIn(base);
    await b.post('/profile/contact', { email: 'new@example.org', phone_number: '' });
    const gone = await b.post('/profile/contact/confirm', { code: '123456' });
    assert.equal(gone.status, 409);
    const text = await gone.text();
    assert.match(text, /expired or was tried too often, so nothing was changed/);
    assert.ok(!/saved\./.test(text.replace(/Save your new details/, '')));
    assert.match(cookiesOf(gone).find((c) => c.startsWith('tally_contact_change=')), /Max-Age=0/);
  }, config, {
    UpdateContact: () => ({ user: { email: 'old@example.org', phone_number: '' }, pending_change_id: 'chg_1' }),
    ConfirmContactChange: () => { throw refused(Status.NOT_FOUND, 'no such contact change'); },
  });
});

test('a change Tally wants a recent sign-in for: "confirm it is you", a step-up, and back', async () => {
  await withServer(async (base, tally) => {
    const b = await signedIn(base);
    const refusedChange = await b.post('/profile/contact', { email: 'new@example.org', phone_number: '' });
    assert.equal(refusedChange.status, 303);
    assert.equal(refusedChange.headers.get('location'), '/reauth?return_to=%2Fprofile');
    const page = await (await b.get('/reauth?return_to=%2Fprofile')).text();
    assert.match(page, /Confirm it is you/);
    assert.match(page, /name="return_to" value="\/profile"/);
    // Only our own pages are places to return to.
    assert.match(await (await b.get('/reauth?return_to=https%3A%2F%2Fevil.example')).text(),
      /name="return_to" value="\/account"/);

    const stepUp = await b.post('/account/step-up', { return_to: '/profile' });
    assert.equal(stepUp.headers.get('location'), '/login');
    assert.deepEqual(tally.calls.find((c) => c.method === 'StartStepUp').request,
      { session_token: TOKEN, required_level: 30, max_age_seconds: 0 });
    const done = await b.post('/login/password', { password: 'pw' });
    assert.equal(done.headers.get('location'), '/profile?done=confirmed');
  }, config, {
    UpdateContact: () => { throw refused(Status.FAILED_PRECONDITION, 'sign in again', { reason: 'REAUTHENTICATION_REQUIRED' }); },
    StartStepUp: () => ({ state: { login_id: 'lgn_2', status: 'LOGIN_STATUS_IN_PROGRESS', score: 0, required_level: 30 } }),
  });
});

test('authenticator app: Tally\'s QR SVG only as an image, the enrolment id only in a cookie', async () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="1" height="1"/></svg>';
  await withServer(async (base, tally) => {
    const b = await signedIn(base);
    const started = await b.post('/profile/totp/start', {});
    assert.equal(started.status, 200);
    const page = await started.text();
    assert.ok(!page.includes('<svg') && !page.includes('<script>alert'), 'the SVG is never markup of the page');
    const src = /id="totp-qr" class="qr" src="([^"]+)"/.exec(page)[1];
    assert.equal(src, `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`);
    assert.match(page, /<code id="totp-secret" class="secret">JBSW Y3DP EHPK 3PXP<\/code>/);
    assert.ok(!page.includes('enr_1'));
    assert.match(cookiesOf(started).find((c) => c.startsWith('tally_totp_enrollment=')), /^tally_totp_enrollment=enr_1;.*HttpOnly; SameSite=Strict/);

    const wrong = await b.post('/profile/totp/confirm', { code: '000000' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /That code is not right/);
    const on = await b.post('/profile/totp/confirm', { code: '287082' });
    assert.equal(on.headers.get('location'), '/profile?done=totp-enabled');
    assert.deepEqual(tally.calls.filter((c) => c.method === 'ConfirmTotpEnrollment').pop().request,
      { enrollment_id: 'enr_1', code: '287082' });

    const codes = await (await b.post('/profile/recovery-codes', {})).text();
    assert.match(codes, /shown only\s+this once/);
    assert.match(codes, /<code>abcd-efgh-ij<\/code>/);
  }, config, {
    StartTotpEnrollment: () => ({ enrollment_id: 'enr_1', secret_base32: 'JBSWY3DPEHPK3PXP', qr_svg: svg,
      otpauth_uri: 'otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme',
      expire_time: { seconds: String(Math.floor(Date.now() / 1000) + 600), nanos: 0 } }),
    ConfirmTotpEnrollment: ({ code }) => {
      if (code !== '287082') throw refused(Status.UNAUTHENTICATED, 'wrong code');
      return { user: { has_totp: true } };
    },
    GenerateRecoveryCodes: () => ({ codes: ['abcd-efgh-ij', 'klmn-opqr-st'] }),
  });
});

test('password change: the current password checked by Tally, then signed out to sign in again', async () => {
  await withServer(async (base, tally) => {
    const b = await signedIn(base);
    const mismatch = await b.post('/profile/password', { current_password: 'old', new_password: 'a long new one', new_password_again: 'another' });
    assert.equal(mismatch.status, 400);
    assert.match(await mismatch.text(), /not the same/);
    assert.ok(!tally.calls.some((c) => c.method === 'SetPassword'), 'nothing reached Tally');
    const wrong = await b.post('/profile/password', { current_password: 'wrong', new_password: 'a long new one', new_password_again: 'a long new one' });
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /id="current_password-error">That is not your current password/);
    const changed = await b.post('/profile/password', { current_password: 'old', new_password: 'a long new one', new_password_again: 'a long new one' });
    assert.equal(changed.headers.get('location'), '/?done=password-changed');
    assert.match(cookiesOf(changed).find((c) => c.startsWith('tally_session=')), /Max-Age=0/);
  }, config, {
    GetUser: () => ({ user: { user_id: 'usr_1', username: 'alice', email: '', phone_number: '', roles: ['user'], has_password: true } }),
    SetPassword: ({ current_password: current }) => {
      if (current !== 'old') throw refused(Status.PERMISSION_DENIED, 'wrong current password');
      return { user: {} };
    },
  });
});

test('an admin\'s edit of another user applies at once; their own account waits for the code', async () => {
  await withServer(async (base) => {
    const b = await signedIn(base);
    const other = await b.post('/admin/directories/dir_test/users/usr_2/contact', { email: 'bob@example.org', phone_number: '' });
    assert.equal(other.headers.get('location'), '/admin/directories/dir_test/users/usr_2?done=contact-saved');
    const own = await b.post('/admin/directories/dir_test/users/usr_1/contact', { email: 'new@example.org', phone_number: '' });
    assert.equal(own.headers.get('location'), '/profile/contact/confirm');
  }, config, {
    ValidateSession: () => ({ session_id: 'ses_1', user_id: 'usr_1', directory_id: 'dir_test', level: 30,
      methods: [], roles: ['admin'], auth_time: { seconds: '1', nanos: 0 }, expire_time: { seconds: '2', nanos: 0 } }),
    GetDirectory: () => ({ directory: { directory_id: 'dir_test', display_name: 'Test', tier: 'TIER_FREEMIUM' } }),
    GetUser: ({ user_id: id }) => ({ user: { user_id: id, directory_id: 'dir_test', username: id, email: '', phone_number: '', roles: [] } }),
    UpdateContact: ({ user_id: id, email }) => (id === 'usr_1'
      ? { user: { email: 'old@example.org', phone_number: '' }, pending_change_id: 'chg_1' }
      : { user: { email, phone_number: '' }, pending_change_id: '' }),
  });
});

test('"Send a new code" too soon: the confirmation page says when, the change still waits', async () => {
  let sends = 0;
  await withServer(async (base) => {
    const b = await signedIn(base);
    await b.post('/profile/contact', { email: 'new@example.org', phone_number: '' });
    const again = await b.post('/profile/contact', { email: 'new@example.org', phone_number: '' });
    assert.equal(again.status, 429);
    const page = await again.text();
    assert.match(page, /Try again in 20 seconds/);
    assert.match(page, /action="\/profile\/contact\/confirm"/);
  }, config, {
    UpdateContact: () => {
      sends += 1;
      if (sends > 1) throw refused(Status.RESOURCE_EXHAUSTED, 'cooling down', { retryDelaySeconds: 20 });
      return { user: { email: 'old@example.org', phone_number: '' }, pending_change_id: 'chg_1' };
    },
  });
});

// ---- Authenticator app and recovery code steps, remembered devices.

const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36';
const DEVICE_TOKEN = 'dvt_secret-device-token';
const inAnHour = () => ({ seconds: String(Math.floor(Date.now() / 1000) + 3600), nanos: 0 });
const succeeded = (extra) => ({ state: { login_id: 'lgn_1', directory_id: 'dir_test', status: 'LOGIN_STATUS_SUCCEEDED',
  score: 30, required_level: 30, completed_methods: ['AUTH_METHOD_PASSWORD'], offered_methods: [],
  session: { token: TOKEN, session_id: 'ses_1', expire_time: inAnHour() }, ...extra } });
const rejected = (method, attemptsLeft) => ({ state: { login_id: 'lgn_1', status: 'LOGIN_STATUS_IN_PROGRESS',
  score: 20, required_level: 30, completed_methods: ['AUTH_METHOD_PASSWORD'], offered_methods: [],
  last_step: { method, outcome: 'STEP_OUTCOME_REJECTED', attempts_left: attemptsLeft } } });
// Settings under which a remembered device counts 10 points for 30 days.
const deviceSettings = () => ({ settings: { required_level: 30, trusted_device_max_age: { seconds: String(30 * 86400), nanos: 0 },
  method_points: [{ method: 'AUTH_METHOD_PASSWORD', points: 20 }, { method: 'AUTH_METHOD_TRUSTED_DEVICE', points: 10 }] } });

// A browser in the middle of a login (after POST /login), with its cookie jar.
async function loggingIn(base, { cookie: extra = '', userAgent = CHROME_UA } = {}) {
  const page = await fetch(`${base}/`);
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(await page.text())[1];
  const jarCookies = new Map(cookiesOf(page).map((c) => c.split(';')[0].split('=')));
  for (const c of extra ? extra.split('; ') : []) jarCookies.set(...c.split('='));
  const cookie = () => [...jarCookies].filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res) => {
    for (const c of cookiesOf(res)) jarCookies.set(...c.split(';')[0].split('='));
    return res;
  };
  const b = {
    csrf, jar: jarCookies,
    get: async (path) => keep(await fetch(`${base}${path}`, { redirect: 'manual', headers: { cookie: cookie(), 'user-agent': userAgent } })),
    post: async (path, form, { withCsrf = true } = {}) => keep(await fetch(`${base}${path}`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie(), 'user-agent': userAgent },
      body: new URLSearchParams(withCsrf ? { ...form, _csrf: csrf } : form) })),
  };
  await b.post('/login', { username: 'Alice' });
  return b;
}

test('authenticator app step: CSRF-checked, a wrong code stays with the attempts left', async () => {
  await withServer(async (base, tally) => {
    const b = await loggingIn(base);
    const page = await (await b.get('/login/totp')).text();
    assert.match(page, /action="\/login\/totp"[^]*name="_csrf"/);
    assert.match(page, /autocomplete="one-time-code"/);
    assert.equal((await b.post('/login/totp', { code: '123456' }, { withCsrf: false })).status, 403);
    assert.ok(!tally.calls.some((c) => c.method === 'SubmitTotp'), 'nothing reached Tally');

    const wrong = await b.post('/login/totp', { code: '000 000' });
    assert.equal(wrong.headers.get('location'), '/login/totp');
    assert.deepEqual(tally.calls.find((c) => c.method === 'SubmitTotp').request, { login_id: 'lgn_1', code: '000000' });
    assert.match(await (await b.get('/login/totp')).text(), /That code is not right\. 4 attempts left\./);
    const right = await b.post('/login/totp', { code: '287082' });
    assert.equal(right.headers.get('location'), '/account');
  }, config, {
    SubmitTotp: ({ code }) => (code === '287082' ? succeeded() : rejected('AUTH_METHOD_TOTP', 4)),
    GetLogin: () => rejected('AUTH_METHOD_TOTP', 4),
  });
});

test('recovery code step: the codes left shown after the sign-in, with the way to make new ones', async () => {
  let settingsNow = null;
  await withServer(async (base, tally) => {
    const b = await loggingIn(base);
    assert.match(await (await b.get('/login/recovery-code')).text(), /action="\/login\/recovery-code"[^]*name="_csrf"/);
    assert.equal((await b.post('/login/recovery-code', { code: 'abcd-efgh' }, { withCsrf: false })).status, 403);
    const used = await b.post('/login/recovery-code', { code: ' abcd-efgh ' });
    assert.deepEqual(tally.calls.find((c) => c.method === 'SubmitRecoveryCode').request, { login_id: 'lgn_1', code: 'abcd-efgh' });
    assert.equal(used.headers.get('location'), '/account?recovery_codes_left=3');
    // Where a remembered device counts, the "remember" page comes first and keeps the count.
    const b2 = await loggingIn(base);
    settingsNow = deviceSettings;
    assert.equal((await b2.post('/login/recovery-code', { code: 'abcd-efgh' })).headers.get('location'),
      '/login/remember?recovery_codes_left=3');
    assert.match(await (await b2.get('/login/remember?recovery_codes_left=3')).text(),
      /action="\/login\/remember\?recovery_codes_left=3"/);
    assert.equal((await b2.post('/login/remember?recovery_codes_left=3', { remember: 'no' })).headers.get('location'),
      '/account?recovery_codes_left=3');
    settingsNow = null;
    const account = await (await b.get('/account?recovery_codes_left=3')).text();
    assert.match(account, /3 recovery codes left —\s+<a href="\/profile#recovery-title">make new ones in your profile<\/a>/);
    // Only a number from the query string makes a notice.
    assert.ok(!(await (await b.get('/account?recovery_codes_left=x%3Cb')).text()).includes('id="recovery-left"'));
  }, config, {
    GetLogin: () => rejected('AUTH_METHOD_RECOVERY_CODE', 2),
    SubmitRecoveryCode: () => succeeded({ completed_methods: ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_RECOVERY_CODE'], recovery_codes_left: 3 }),
    GetAuthSettings: () => (settingsNow ? settingsNow() : { settings: { required_level: 30, method_points: [] } }),
  });
});

test('remember this device: offered after a sign-in, the token only in its own HttpOnly cookie', async () => {
  const secureConfig = { ...config, origin: 'https://login.example', secure_cookies: true };
  await withServer(async (base, tally) => {
    const b = await loggingIn(base);
    const done = await b.post('/login/password', { password: 'pw' });
    assert.equal(done.headers.get('location'), '/login/remember');
    assert.match(cookiesOf(done).find((c) => c.startsWith('tally_remember=')), /^tally_remember=lgn_1;.*HttpOnly; Secure; SameSite=Strict/);

    const offer = await (await b.get('/login/remember')).text();
    assert.match(offer, /<strong>Chrome on Linux<\/strong> counts <strong>10 points<\/strong>[^]*for 30 days/);
    assert.match(offer, /action="\/login\/remember"[^]*name="_csrf"/);
    assert.equal((await b.post('/login/remember', { remember: 'yes' }, { withCsrf: false })).status, 403);
    assert.ok(!tally.calls.some((c) => c.method === 'RememberDevice'), 'nothing reached Tally');

    const remembered = await b.post('/login/remember', { remember: 'yes' });
    assert.equal(remembered.headers.get('location'), '/account?done=device-remembered');
    assert.deepEqual(tally.calls.find((c) => c.method === 'RememberDevice').request,
      { login_id: 'lgn_1', device_name: 'Chrome on Linux' });
    const device = cookiesOf(remembered).find((c) => c.startsWith('tally_device='));
    assert.match(device, /; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    const maxAge = Number(/Max-Age=(\d+)/.exec(device)[1]);
    assert.ok(maxAge > 0 && maxAge <= 7 * 86400, `Max-Age ${maxAge}: no longer than Tally keeps the device`);
    assert.ok(device.includes(encodeURIComponent(DEVICE_TOKEN)));
    const page = await (await b.get('/account?done=device-remembered')).text();
    assert.ok(!page.includes(DEVICE_TOKEN), 'the device token is never in a page');
    assert.match(page, /This device is remembered/);

    // Signing out keeps the device; the next sign-in of the same user sends its token.
    await b.post('/logout', {});
    assert.ok(b.jar.get('tally_device'), 'the device cookie survives signing out');
    await b.post('/login', { username: 'alice' });
    assert.equal(tally.calls.filter((c) => c.method === 'StartLogin').pop().request.device_token, DEVICE_TOKEN);
    // Another user typed on this browser: not theirs to send.
    await b.post('/login', { username: 'bob' });
    assert.equal(tally.calls.filter((c) => c.method === 'StartLogin').pop().request.device_token, undefined);
  }, secureConfig, {
    SubmitPassword: () => succeeded(),
    GetAuthSettings: deviceSettings,
    RememberDevice: () => ({ device_token: DEVICE_TOKEN, device_id: 'dev_1',
      expire_time: { seconds: String(Math.floor(Date.now() / 1000) + 7 * 86400), nanos: 0 } }),
  });
});

// GetAuthSettings is for the directory's admins: a plain user's session is refused it, and the
// offer still comes, without the points; the days Tally keeps the device come from RememberDevice.
test('remember this device when Tally refuses the settings: offered without points, the notice names the days', async () => {
  await withServer(async (base, tally) => {
    const b = await loggingIn(base);
    const done = await b.post('/login/recovery-code', { code: 'abcd-efgh' });
    assert.equal(done.headers.get('location'), '/login/remember?recovery_codes_left=3');
    assert.equal(tally.calls.find((c) => c.method === 'GetAuthSettings').token, TOKEN, 'asked with the new session');

    const offer = await (await b.get('/login/remember?recovery_codes_left=3')).text();
    assert.match(offer, /id="remember-offer"[^]*<strong>Chrome on Linux<\/strong> counts beside your password or passkey with the\s+points your directory gives remembered devices/);
    assert.doesNotMatch(offer, /\d+ points?\b|\d+ days?\b/, 'no points or days Tally did not tell');
    assert.match(offer, /id="remember-yes"/);

    const remembered = await b.post('/login/remember?recovery_codes_left=3', { remember: 'yes' });
    assert.equal(remembered.headers.get('location'), '/account?recovery_codes_left=3&done=device-remembered&device_days=90');
    assert.ok(cookiesOf(remembered).find((c) => c.startsWith('tally_device=')).includes(encodeURIComponent(DEVICE_TOKEN)));
    const page = await (await b.get('/account?recovery_codes_left=3&done=device-remembered&device_days=90')).text();
    assert.match(page, /This device is remembered for 90 days: next time it counts toward your sign-in/);
    assert.match(page, /3 recovery codes left/);
    // Only digits from the query string make the days.
    const odd = await (await b.get('/account?done=device-remembered&device_days=9%3Cb')).text();
    assert.match(odd, /This device is remembered: next time it counts toward your sign-in\./);
    assert.deepEqual(tally.logs.filter((l) => l.includes('offer')), [], 'a refusal is the expected answer');
  }, config, {
    SubmitRecoveryCode: () => succeeded({ completed_methods: ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_RECOVERY_CODE'], recovery_codes_left: 3 }),
    GetAuthSettings: () => { throw refused(Status.PERMISSION_DENIED, 'caller is not an admin of directory dir_test'); },
    RememberDevice: () => ({ device_token: DEVICE_TOKEN, device_id: 'dev_1',
      expire_time: { seconds: String(Math.floor(Date.now() / 1000) + 90 * 86400), nanos: 0 } }),
  });
  // Tally unreachable: the sign-in goes on without the offer, and the app's log says why.
  await withServer(async (base, tally) => {
    const b = await loggingIn(base);
    assert.equal((await b.post('/login/password', { password: 'pw' })).headers.get('location'), '/account');
    assert.ok(tally.logs.some((l) => /no "remember this device" offer: GetAuthSettings UNAVAILABLE/.test(l)), tally.logs.join('\n'));
  }, config, {
    SubmitPassword: () => succeeded(),
    GetAuthSettings: () => { throw refused(Status.UNAVAILABLE, 'policy unavailable'); },
  });
});

test('no "remember" page where a device counts nothing, or when it already counted', async () => {
  for (const [settings, completed] of [
    [() => ({ settings: { required_level: 30, method_points: [{ method: 'AUTH_METHOD_PASSWORD', points: 30 }] } }), ['AUTH_METHOD_PASSWORD']],
    [deviceSettings, ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_TRUSTED_DEVICE']],
  ]) {
    await withServer(async (base) => {
      const b = await loggingIn(base, { cookie: 'tally_remember=lgn_earlier' });
      const done = await b.post('/login/password', { password: 'pw' });
      assert.equal(done.headers.get('location'), '/account');
      assert.match(cookiesOf(done).find((c) => c.startsWith('tally_remember=')), /^tally_remember=;.*Max-Age=0/,
        'an earlier unanswered offer goes');
    }, config, { SubmitPassword: () => succeeded({ completed_methods: completed }), GetAuthSettings: settings });
  }
});

test('a stale or forgotten device token is dropped quietly once the password counted without it', async () => {
  const device = `tally_device=${encodeURIComponent(JSON.stringify({ user: 'alice', id: 'dev_1', token: DEVICE_TOKEN }))}`;
  await withServer(async (base, tally) => {
    const b = await loggingIn(base, { cookie: device });
    assert.equal(tally.calls.find((c) => c.method === 'StartLogin').request.device_token, DEVICE_TOKEN);
    const after = await b.post('/login/password', { password: 'pw' });
    assert.equal(after.headers.get('location'), '/login');
    assert.match(cookiesOf(after).find((c) => c.startsWith('tally_device=')), /Max-Age=0/);
  }, config, {
    SubmitPassword: () => ({ state: { login_id: 'lgn_1', status: 'LOGIN_STATUS_IN_PROGRESS', score: 20,
      required_level: 30, completed_methods: ['AUTH_METHOD_PASSWORD'], offered_methods: [] } }),
  });
  // Counted: kept, and the methods page says so.
  await withServer(async (base) => {
    const b = await loggingIn(base, { cookie: device });
    const after = await b.post('/login/password', { password: 'pw' });
    assert.ok(!cookiesOf(after).some((c) => c.startsWith('tally_device=')));
    assert.match(await (await b.get('/login')).text(), /This\s+device is remembered/);
  }, config, {
    SubmitPassword: () => ({ state: { login_id: 'lgn_1', status: 'LOGIN_STATUS_IN_PROGRESS', score: 30,
      required_level: 40, completed_methods: ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_TRUSTED_DEVICE'], offered_methods: [] } }),
    GetLogin: () => ({ state: { login_id: 'lgn_1', status: 'LOGIN_STATUS_IN_PROGRESS', score: 30,
      required_level: 40, completed_methods: ['AUTH_METHOD_PASSWORD', 'AUTH_METHOD_TRUSTED_DEVICE'], offered_methods: [] } }),
  });
});

test('profile: remembered devices listed; forgetting one needs a fresh sign-in, then clears this browser\'s', async () => {
  let fresh = false;
  await withServer(async (base, tally) => {
    const b = await signedIn(base);
    const device = JSON.stringify({ user: 'alice', id: 'dev_1', token: DEVICE_TOKEN });
    const page = await (await fetch(`${base}/profile`, { headers: {
      cookie: `tally_session=${TOKEN}; tally_device=${encodeURIComponent(device)}` } })).text();
    assert.match(page, /<strong>Chrome on Linux<\/strong> <span class="muted">\(this device\)<\/span>/);
    assert.match(page, /action="\/profile\/devices\/forget"[^]*name="_csrf"[^]*name="device_id" value="dev_1"/);
    assert.ok(!page.includes(DEVICE_TOKEN));

    const stale = await b.post('/profile/devices/forget', { device_id: 'dev_1' });
    assert.equal(stale.headers.get('location'), '/reauth?return_to=%2Fprofile');
    fresh = true;
    const forgotten = await fetch(`${base}/profile/devices/forget`, { method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        cookie: `tally_session=${TOKEN}; tally_csrf=${b.csrf}; tally_device=${encodeURIComponent(device)}` },
      body: new URLSearchParams({ device_id: 'dev_1', _csrf: b.csrf }) });
    assert.equal(forgotten.headers.get('location'), '/profile?done=device-forgotten');
    assert.match(cookiesOf(forgotten).find((c) => c.startsWith('tally_device=')), /Max-Age=0/);
    assert.deepEqual(tally.calls.filter((c) => c.method === 'ForgetDevice').pop(),
      { method: 'ForgetDevice', request: { user_id: 'usr_1', device_id: 'dev_1' }, token: TOKEN });
  }, config, {
    ListTrustedDevices: () => ({ devices: [{ device_id: 'dev_1', device_name: 'Chrome on Linux',
      create_time: { seconds: '1700000000', nanos: 0 }, last_used_time: null, expire_time: inAnHour() }] }),
    ForgetDevice: () => {
      if (!fresh) throw refused(Status.FAILED_PRECONDITION, 'sign in again', { reason: 'REAUTHENTICATION_REQUIRED' });
      return {};
    },
  });
});
