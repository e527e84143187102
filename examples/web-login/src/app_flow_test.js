'use strict';
// The app's HTTP behaviour against a fake Tally (canned LoginService answers): cookies, CSRF,
// redirects. The real cluster and browser are in tests/browser.
const test = require('node:test');
const assert = require('node:assert/strict');
const { createApp } = require('./app');

const TOKEN = 'eyJhbGciOiJFZERTQSJ9.secret-session-token.sig';
const config = { origin: 'http://login.example', directory_id: 'dir_test', secure_cookies: false };

function fakeTally() {
  const calls = [];
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
    GetAuthSettings: () => ({ settings: { required_level: 30, method_points: [] } }),
  };
  return {
    calls,
    call: async (client, method, request, token) => {
      calls.push({ method, request, token });
      return answers[method](request);
    },
    enumValues: () => [],
  };
}

async function withServer(fn, appConfig = config) {
  const tally = fakeTally();
  const server = createApp({ config: appConfig, tally }).listen(0, '127.0.0.1');
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
