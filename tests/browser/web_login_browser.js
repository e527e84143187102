#!/usr/bin/env node
'use strict';
// The example web app (examples/web-login) in a real headless Chromium, driven over the
// DevTools protocol with puppeteer-core and a WebAuthn virtual authenticator. Started by
// web_login_browser_test.cc, which runs the Tally cluster and the web app and passes:
//   WEB_URL          the app, http://localhost:<port> (the passkey service's RP origin)
//   WEB_LOGIN_DIR    examples/web-login (its node_modules has puppeteer-core)
//   OUTBOX           the OTP senders' outbox file (codes are read from it)
//   USERS            JSON {name: {username, phone, email}}; every password is PASSWORD
//   PASSWORD         the users' password
//   STALE_SESSION    a session token of alice's whose sign-in (auth_time) is a day old
//   SCREENSHOT_DIR   where each page's screenshot goes
// Prints one line per scenario step and "N passed, N failed"; exits non-zero on a failure.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { createRequire } = require('node:module');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const WEB_URL = env('WEB_URL');
const OUTBOX = env('OUTBOX');
const USERS = JSON.parse(env('USERS'));
const PASSWORD = env('PASSWORD');
const STALE_SESSION = env('STALE_SESSION');
const SHOTS = env('SCREENSHOT_DIR');
const puppeteer = createRequire(path.join(env('WEB_LOGIN_DIR'), 'package.json'))('puppeteer-core');

// A 2-core CI box under load: generous waits, never fixed sleeps.
const WAIT_MS = 60000;

let passed = 0;
let failed = 0;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    throw e;  // later steps build on this one
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// ---- The outbox: codes the OTP senders "delivered".
function outboxLines() {
  try {
    return fs.readFileSync(OUTBOX, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

// The first match of `pattern` in a message to `destination` written after line `mark`.
async function waitForMessage(mark, channel, destination, pattern, what) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    for (const line of outboxLines().slice(mark)) {
      const m = JSON.parse(line);
      if (m.channel !== channel || m.destination !== destination) continue;
      const found = pattern.exec(`${m.subject || ''}\n${m.text}`);
      if (found) return found;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));  // polling the file, not waiting out a timer
  }
  throw new Error(`no ${channel} ${what} for ${destination} in ${OUTBOX}`);
}

async function waitForCode(mark, channel, destination) {
  return (await waitForMessage(mark, channel, destination, /code is:? (\d{6})\b/, 'code'))[1];
}

// ---- An authenticator app: RFC 6238 (HMAC-SHA-1, 6 digits, 30 s) from the base32 secret.
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out = [];
  let bits = 0;
  let value = 0;
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totpCode(secretBase32, timeMs) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(timeMs / 1000 / 30)));
  const mac = crypto.createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// ---- Pages

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // Every visible form control has a label (for screen readers and keyboard users).
  const unlabelled = await page.$$eval('input:not([type=hidden]), select, textarea, button', (els) => els
    .filter((el) => el.offsetParent !== null && !el.closest('[aria-hidden=true]'))
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') &&
      !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 120)));
  check(unlabelled.length === 0, `${name}: controls without a label: ${unlabelled.join(' | ')}`);
}

async function text(page, selector) {
  await page.waitForSelector(selector, { timeout: WAIT_MS });
  return page.$eval(selector, (el) => el.innerText.replace(/\s+/g, ' ').trim());
}

async function clickAndWait(page, selector) {
  await page.waitForSelector(selector, { visible: true, timeout: WAIT_MS });
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load', timeout: WAIT_MS }),
    page.click(selector),
  ]);
}

async function goto(page, pathname) {
  await page.goto(`${WEB_URL}${pathname}`, { waitUntil: 'load', timeout: WAIT_MS });
}

async function expectPath(page, pathname) {
  const actual = new URL(page.url()).pathname;
  check(actual === pathname, `expected ${pathname}, at ${page.url()}`);
}

async function score(page) {
  return text(page, '.score');
}

async function startLogin(page, username) {
  await goto(page, '/');
  await page.waitForSelector('#username', { timeout: WAIT_MS });
  await page.type('#username', username);
  await clickAndWait(page, '#sign-in-form button[type=submit]');
  await expectPath(page, '/login');
}

async function submitPassword(page, password) {
  await clickAndWait(page, 'a[data-method=AUTH_METHOD_PASSWORD]');
  await page.type('#password', password);
  await clickAndWait(page, 'form[action="/login/password"] button[type=submit]');
}

async function sendCode(page, method) {
  const mark = outboxLines().length;
  await clickAndWait(page, `button[data-method=${method}]`);
  await expectPath(page, '/login/otp');
  return mark;
}

async function enterCode(page, code) {
  await page.waitForSelector('#code', { timeout: WAIT_MS });
  await page.$eval('#code', (el) => { el.value = ''; });
  await page.type('#code', code);
  await clickAndWait(page, 'form[action="/login/otp/verify"] button[type=submit]');
}

// The methods page → a code step (authenticator app, recovery code) → its code submitted.
async function submitStepCode(page, method, code) {
  if (new URL(page.url()).pathname === '/login') await clickAndWait(page, `a[data-method=${method}]`);
  await page.waitForSelector('#code', { timeout: WAIT_MS });
  await page.$eval('#code', (el) => { el.value = ''; });
  await page.type('#code', code);
  await clickAndWait(page, 'main form[method=post] button.primary');
}

// After a sign-in that the device did not count in: "Remember this device?" → yes or not now.
// A plain user (alice, bob) is asked whatever the directory gives remembered devices: the
// settings are for its admins (API.md), so the page cannot tell and offers it without points.
async function answerRemember(page, remember) {
  await expectPath(page, '/login/remember');
  await clickAndWait(page, remember ? '#remember-yes' : '#remember-no');
}

async function signOut(page) {
  await clickAndWait(page, 'form[action="/logout"] button');
  await expectPath(page, '/');
}

async function claims(page) {
  return text(page, '#claims');
}

// A WebAuthn authenticator for this page, as a platform authenticator with user verification.
async function addAuthenticator(page) {
  const cdp = await page.createCDPSession();
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

// A raw HTTP POST with this page's cookies (an attacker's forged request carries them too,
// where a browser would send them).
async function rawPost(page, pathname, form, headers) {
  const cookies = await page.cookies(WEB_URL);
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const body = new URLSearchParams(form).toString();
  const url = new URL(pathname, WEB_URL);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tally-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
    timeout: 120000,
    protocolTimeout: 120000,
  });
  const newPage = async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    await page.setViewport({ width: 1024, height: 800 });
    return page;
  };
  try {
    const { alice, bob, admin, dave } = USERS;

    // ---- alice: password + SMS, a wrong code first.
    const page = await newPage();
    const authenticator = await addAuthenticator(page);
    await step('sign-in page', async () => {
      await goto(page, '/');
      await shot(page, '01-sign-in');
      const autocomplete = await page.$eval('#username', (el) => el.getAttribute('autocomplete'));
      check(autocomplete === 'username webauthn', `username autocomplete is ${autocomplete}`);
    });
    await step('username → offered methods with their points, 0 of 30', async () => {
      await startLogin(page, alice.username);
      const s = await score(page);
      check(s.includes('0 of 30'), `score: ${s}`);
      const methods = await text(page, 'ul.methods');
      for (const m of ['Password +20 points', 'Code by SMS +10 points', 'Code by e-mail +10 points']) {
        check(methods.includes(m), `methods: ${methods}`);
      }
      await shot(page, '02-methods');
    });
    await step('password → 20 of 30', async () => {
      await clickAndWait(page, 'a[data-method=AUTH_METHOD_PASSWORD]');
      await shot(page, '03-password');
      await page.type('#password', PASSWORD);
      await clickAndWait(page, 'form[action="/login/password"] button[type=submit]');
      await expectPath(page, '/login');
      const s = await score(page);
      check(s.includes('20 of 30'), `score: ${s}`);
      const done = await text(page, 'ul.done');
      check(done.includes('Password'), `completed: ${done}`);
      await shot(page, '04-methods-after-password');
    });
    let smsMark;
    await step('SMS code sent, resend counts down', async () => {
      smsMark = await sendCode(page, 'AUTH_METHOD_SMS_OTP');
      const info = await text(page, 'main');
      check(info.includes('by SMS'), `code page: ${info}`);
      check(/You can ask for a new code in \d+ seconds/.test(info), `no countdown: ${info}`);
      check(await page.$eval('#resend', (el) => el.disabled), 'resend is not disabled during the cooldown');
      await page.waitForFunction(() => parseInt(document.querySelector('[data-countdown]').textContent, 10) < 30,
        { timeout: WAIT_MS });
      await shot(page, '05-code');
    });
    await step('a wrong code shows the attempts left', async () => {
      const code = await waitForCode(smsMark, 'sms', alice.phone);
      const wrong = code === '000000' ? '111111' : '000000';
      await enterCode(page, wrong);
      await expectPath(page, '/login/otp');
      const error = await text(page, '#code-error');
      check(/not right\. 4 attempts left for this code/.test(error), `error: ${error}`);
      const invalid = await page.$eval('#code', (el) => el.getAttribute('aria-invalid'));
      check(invalid === 'true', 'the code field is not marked invalid');
      await shot(page, '06-wrong-code');
      smsMark = code;  // the right one, still valid
    });
    await step('the right code → signed in at 30', async () => {
      await enterCode(page, smsMark);
      await answerRemember(page, false);
      await expectPath(page, '/account');
      const c = await claims(page);
      check(c.includes('Level (acr) 30'), `claims: ${c}`);
      check(c.includes('Password, Code by SMS'), `claims: ${c}`);
      await shot(page, '07-signed-in');
    });
    await step('the session token is out of JavaScript\'s reach, cookies HttpOnly + SameSite=Strict', async () => {
      const visible = await page.evaluate(() => document.cookie);
      check(visible === '', `document.cookie shows: ${visible}`);
      const session = (await page.cookies(WEB_URL)).find((c) => c.name === 'tally_session');
      check(session && session.httpOnly && session.sameSite === 'Strict', `cookie: ${JSON.stringify(session && { ...session, value: '…' })}`);
      const html = await page.content();
      check(!html.includes(session.value), 'the token is in the page');
    });
    await step('forged POSTs are refused: no CSRF token, or another origin', async () => {
      const noToken = await rawPost(page, '/logout', {});
      check(noToken === 403, `POST /logout without a CSRF token: ${noToken}`);
      const csrf = await page.$eval('meta[name=csrf-token]', (el) => el.content);
      const otherOrigin = await rawPost(page, '/logout', { _csrf: csrf }, { origin: 'http://evil.example' });
      check(otherOrigin === 403, `POST /logout from another origin: ${otherOrigin}`);
      // Still signed in.
      await goto(page, '/account');
      await expectPath(page, '/account');
    });

    // ---- alice: a passkey, then passkey sign-ins.
    await step('register a passkey on the signed-in page', async () => {
      await page.type('#nickname', 'Test laptop');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load', timeout: WAIT_MS }),
        page.click('#passkey-add button[type=submit]'),
      ]);
      const notice = await text(page, '.alert.notice');
      check(notice.includes('passkey was added'), `notice: ${notice}`);
      const list = await text(page, '#passkey-list');
      check(list.includes('Test laptop'), `passkeys: ${list}`);
      await shot(page, '08-passkey-added');
    });
    // The passkey as the virtual authenticator holds it, to move it between authenticators.
    // (with its current sign counter: the passkey service refuses a counter that goes back).
    const { cdp, authenticatorId } = authenticator;
    const credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    let kept = null;
    const forgetPasskey = async () => {
      [kept] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    };
    const giveBackPasskey = () => cdp.send('WebAuthn.addCredential', { authenticatorId, credential: kept });
    await step('sign out → the username field\'s autofill (conditional UI) signs in with the passkey', async () => {
      check(credentials.length === 1 && credentials[0].isResidentCredential, 'no discoverable passkey');
      await page.waitForSelector('form[action="/logout"] button', { visible: true });
      // Sign-out lands on the sign-in page, whose autofill request the authenticator answers.
      await page.click('form[action="/logout"] button');
      await page.waitForFunction(() => window.location.pathname === '/login/remember', { timeout: WAIT_MS });
      await answerRemember(page, false);
      await expectPath(page, '/account');
      await page.waitForSelector('#claims');
      const c = await claims(page);
      check(c.includes('Methods Passkey'), `claims: ${c}`);
      // The rest of alice's passkey steps use the buttons: the authenticator forgets the passkey
      // until a step hands it back, so no autofill answers first.
      await forgetPasskey();
      await signOut(page);
      const notice = await text(page, '.alert.notice');
      check(notice.includes('signed out'), `notice: ${notice}`);
    });
    await step('username → passkey (30 points) → signed in', async () => {
      await startLogin(page, alice.username);
      const methods = await text(page, 'ul.methods');
      check(methods.includes('Passkey +30 points'), `methods: ${methods}`);
      await clickAndWait(page, 'a[data-method=AUTH_METHOD_PASSKEY]');
      await shot(page, '09-passkey');
      await giveBackPasskey();
      await clickAndWait(page, '#passkey-login');
      await answerRemember(page, false);
      await expectPath(page, '/account');
      const c = await claims(page);
      check(c.includes('Level (acr) 30') && c.includes('Methods Passkey'), `claims: ${c}`);
      await forgetPasskey();
      await signOut(page);
    });
    await step('passkey-first with the button: no username, the passkey names the user', async () => {
      // A browser without autofill for passkeys (no conditional mediation) holding alice's passkey.
      const p = await newPage();
      await p.evaluateOnNewDocument(() => {
        PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
      });
      const other = await addAuthenticator(p);
      await other.cdp.send('WebAuthn.addCredential', { authenticatorId: other.authenticatorId, credential: kept });
      await goto(p, '/');
      await clickAndWait(p, '#passkey-first');
      await answerRemember(p, false);
      await expectPath(p, '/account');
      const c = await claims(p);
      check(c.includes('Methods Passkey'), `claims: ${c}`);
      const welcome = await text(p, 'h1');
      check(welcome.includes(alice.username), `heading: ${welcome}`);
      [kept] = (await other.cdp.send('WebAuthn.getCredentials', { authenticatorId: other.authenticatorId })).credentials;
      await p.browserContext().close();
      await goto(page, '/');
      await startLogin(page, alice.username);
      await giveBackPasskey();
      await clickAndWait(page, 'a[data-method=AUTH_METHOD_PASSKEY]');
      await clickAndWait(page, '#passkey-login');
      await answerRemember(page, false);
      await expectPath(page, '/account');
      await forgetPasskey();
    });
    await step('profile: personal information and passkeys', async () => {
      await goto(page, '/profile');
      const phone = await page.$eval('#phone_number', (el) => el.value);
      check(phone === alice.phone, `phone shown: ${phone}`);
      await page.$eval('#email', (el) => { el.value = 'not an address'; });
      await page.$eval('#email', (el) => el.setAttribute('type', 'text'));  // past the browser's own check
      await clickAndWait(page, 'form[action="/profile/contact"] button[type=submit]');
      const error = await text(page, '.alert.error');
      check(/refused|correct/.test(error), `refusal: ${error}`);
      await goto(page, '/profile');
      await shot(page, '10-profile');
    });
    await step('profile: a new e-mail address counts once the code sent to it comes back', async () => {
      const newEmail = `new.${alice.email}`;
      await goto(page, '/profile');
      await page.$eval('#email', (el) => { el.value = ''; });
      await page.type('#email', newEmail);
      const mark = outboxLines().length;
      await clickAndWait(page, 'form[action="/profile/contact"] button[type=submit]');
      await expectPath(page, '/profile/contact/confirm');
      const sentTo = await text(page, '#sent-to');
      check(sentTo.includes(`by e-mail to ${newEmail}`), `confirm page: ${sentTo}`);
      await shot(page, '10a-contact-code');
      // Not saved yet: the profile still shows the old address, and says a change is waiting.
      await goto(page, '/profile');
      const shown = await page.$eval('#email', (el) => el.value);
      check(shown === alice.email, `e-mail before the code: ${shown}`);
      check((await text(page, '#pending-change')).includes(newEmail), 'no pending change shown');
      await clickAndWait(page, '#pending-change a');
      const code = await waitForCode(mark, 'email', newEmail);
      await page.type('#code', code === '000000' ? '111111' : '000000');
      await clickAndWait(page, '#contact-confirm-form button[type=submit]');
      await expectPath(page, '/profile/contact/confirm');
      const error = await text(page, '#code-error');
      check(/not right/.test(error), `wrong code: ${error}`);
      await shot(page, '10b-contact-wrong-code');
      await page.type('#code', code);
      await clickAndWait(page, '#contact-confirm-form button[type=submit]');
      await expectPath(page, '/profile');
      const notice = await text(page, '.alert.notice');
      check(notice.includes('confirmed and saved'), `notice: ${notice}`);
      const now = await page.$eval('#email', (el) => el.value);
      check(now === newEmail, `e-mail after the code: ${now}`);
      // The old address is told.
      await waitForMessage(mark, 'email', alice.email, /contact details were changed/i, 'notice of the change');
      await shot(page, '10c-contact-changed');
    });
    await step('profile: an authenticator app, its first code computed from the secret shown', async () => {
      check(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59000) === '287082', 'RFC 6238 test vector');
      const status = await text(page, '#totp-status');
      check(status.includes('Not set up'), `before: ${status}`);
      await clickAndWait(page, '#totp-start');
      const qr = await page.$eval('#totp-qr', (el) => [el.getAttribute('src').slice(0, 26), el.complete && el.naturalWidth > 0]);
      check(qr[0] === 'data:image/svg+xml;base64,' && qr[1], `QR image: ${qr}`);
      await shot(page, '10d-totp-setup');
      const secret = (await text(page, '#totp-secret')).replace(/\s+/g, '');
      await page.type('#code', totpCode(secret, Date.now()));
      await clickAndWait(page, '#totp-confirm-form button[type=submit]');
      await expectPath(page, '/profile');
      const enabled = await text(page, '#totp-status');
      check(enabled.includes('Enabled'), `after: ${enabled}`);
      check(await page.$('#totp-remove') !== null, 'no remove button');
      await shot(page, '10e-totp-enabled');
    });
    let aliceCodes;
    await step('profile: recovery codes, shown once', async () => {
      await clickAndWait(page, '#recovery-generate');
      const codes = await page.$$eval('#recovery-codes li', (els) => els.map((el) => el.innerText.trim()));
      aliceCodes = codes;
      check(codes.length === 10 && new Set(codes).size === 10, `codes: ${codes}`);
      await shot(page, '10f-recovery-codes');
      await clickAndWait(page, 'a[href="/profile"]');
      const left = await text(page, '#recovery-status');
      check(left.includes('10 unused recovery codes left'), `profile: ${left}`);
    });
    await step('profile: the authenticator app removed', async () => {
      await clickAndWait(page, '#totp-remove');
      check((await text(page, '.alert.notice')).includes('removed'), 'no notice');
      check((await text(page, '#totp-status')).includes('Not set up'), 'still enabled');
    });
    await step('a phone-width sign-in page fits the screen', async () => {
      await signOut(page);
      await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
      await goto(page, '/');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the page is ${overflow}px wider than the phone`);
      await shot(page, '11-sign-in-phone');
      await page.setViewport({ width: 1024, height: 800 });
    });

    // ---- dave: wrong passwords until the lock.
    await step('wrong passwords show attempts left, then the lock and when to retry', async () => {
      const p = await newPage();
      await startLogin(p, dave.username);
      await clickAndWait(p, 'a[data-method=AUTH_METHOD_PASSWORD]');
      await p.type('#password', 'not the password at all');
      await clickAndWait(p, 'form[action="/login/password"] button[type=submit]');
      let error = await text(p, '#password-error');
      check(/not right\. 4 attempts left/.test(error), `error: ${error}`);
      for (let i = 0; i < 4; i++) {
        if (new URL(p.url()).pathname !== '/login/password') break;
        await p.type('#password', 'not the password at all');
        await clickAndWait(p, 'form[action="/login/password"] button[type=submit]');
      }
      error = await text(p, '.alert.error');
      check(/Too many failed attempts/.test(error) && /Try again in \d+ seconds?/.test(error), `lock: ${error}`);
      await shot(p, '12-locked');
      await p.browserContext().close();
    });

    // ---- admin: the Authentication tab.
    const adminPage = await newPage();
    await step('admin signs in with password + e-mail code', async () => {
      await startLogin(adminPage, admin.username);
      await submitPassword(adminPage, PASSWORD);
      const mark = await sendCode(adminPage, 'AUTH_METHOD_EMAIL_OTP');
      await enterCode(adminPage, await waitForCode(mark, 'email', admin.email));
      await expectPath(adminPage, '/account');
    });
    await step('step-up: the admin proves it again and gets a new session', async () => {
      const before = await claims(adminPage);
      await clickAndWait(adminPage, '#step-up');
      await expectPath(adminPage, '/login');
      const s = await score(adminPage);
      check(s.includes('0 of 30'), `step-up score: ${s}`);
      await submitPassword(adminPage, PASSWORD);
      const mark = await sendCode(adminPage, 'AUTH_METHOD_SMS_OTP');  // the e-mail is cooling down
      await enterCode(adminPage, await waitForCode(mark, 'sms', admin.phone));
      await expectPath(adminPage, '/account');
      const after = await claims(adminPage);
      const sid = (c) => /Session (\S+)/.exec(c)[1];
      check(sid(after) !== sid(before), 'the step-up did not give a new session');
    });
    let settingsUrl;
    await step('Directories → the directory → Authentication tab', async () => {
      await clickAndWait(adminPage, 'a[href="/admin/directories"]');
      await clickAndWait(adminPage, 'table a');
      settingsUrl = new URL(adminPage.url()).pathname;
      check(settingsUrl.endsWith('/authentication'), `at ${settingsUrl}`);
      const title = await text(adminPage, 'main h2');
      check(title.includes('Authentication Level settings'), `title: ${title}`);
      const level = await adminPage.$eval('#required_level', (el) => el.value);
      check(level === '30', `required level shown: ${level}`);
      const sum = await text(adminPage, '#live-sum');
      check(sum.includes('70 points') && sum.includes('reachable'), `sum: ${sum}`);
      // A method off here that the tier turns on: 0 points, the tier's default beside it.
      const totp = await adminPage.$eval('#points-AUTH_METHOD_TOTP', (el) =>
        [el.value, el.parentElement.querySelector('.default').textContent]);
      check(totp[0] === '0' && totp[1].includes('tier default 10'), `TOTP: ${totp}`);
      await shot(adminPage, '13-authentication');
    });
    await step('the live sum follows the typing', async () => {
      await adminPage.$eval('#required_level', (el) => { el.value = ''; });
      await adminPage.type('#required_level', '80');
      const sum = await text(adminPage, '#live-sum');
      check(sum.includes('nobody could sign in'), `sum: ${sum}`);
    });
    await step('settings nobody could satisfy are refused, the reason next to the field', async () => {
      await adminPage.$eval('#required_level', (el) => { el.value = '80'; });
      await clickAndWait(adminPage, '#settings-form button[type=submit]');
      const error = await text(adminPage, '#required_level-error');
      check(/sign in|unsatisfiable/i.test(error), `field error: ${error}`);
      const typed = await adminPage.$eval('#required_level', (el) => el.value);
      check(typed === '80', `the typed value is kept: ${typed}`);
      const invalid = await adminPage.$eval('#required_level', (el) => el.getAttribute('aria-invalid'));
      check(invalid === 'true', 'the field is not marked invalid');
      await shot(adminPage, '14-settings-refused');
    });
    await step('the admin raises the required level to 40; the audit log shows it', async () => {
      await goto(adminPage, settingsUrl);
      await adminPage.$eval('#required_level', (el) => { el.value = ''; });
      await adminPage.type('#required_level', '40');
      await clickAndWait(adminPage, '#settings-form button[type=submit]');
      const notice = await text(adminPage, '.alert.notice');
      check(notice.includes('Settings saved'), `notice: ${notice}`);
      const audit = await text(adminPage, '#audit');
      check(audit.includes('level 40') && audit.includes('user:'), `audit: ${audit}`);
      await shot(adminPage, '15-settings-saved');
    });
    await step('Users tab: list, add a user, edit roles and contact', async () => {
      await clickAndWait(adminPage, 'nav.tabs a[href$="/users"]');
      const list = await text(adminPage, '#users');
      check(list.includes(alice.username) && list.includes(bob.username), `users: ${list}`);
      await adminPage.type('#new-username', 'carol');
      await adminPage.type('#new-email', 'carol@browser.example');
      await clickAndWait(adminPage, 'form.contact button[type=submit]');
      const added = await text(adminPage, '#users');
      check(added.includes('carol'), `users: ${added}`);
      await shot(adminPage, '16-users');
      await clickAndWait(adminPage, 'a[aria-label="Edit carol"]');
      await adminPage.click('#edit-role-admin');
      await clickAndWait(adminPage, 'form[action$="/roles"] button[type=submit]');
      check((await text(adminPage, '.alert.notice')).includes('Roles saved'), 'roles not saved');
      check(await adminPage.$eval('#edit-role-admin', (el) => el.checked), 'admin role not kept');
      await adminPage.type('#phone_number', '+31 6 5555 0101');
      await clickAndWait(adminPage, 'form[action$="/contact"] button[type=submit]');
      const phone = await adminPage.$eval('#phone_number', (el) => el.value);
      check(phone === '+31655550101', `phone as stored: ${phone}`);
      await shot(adminPage, '17-user');
    });

    // ---- bob, after the change: password + SMS is 30 of 40, a third method is needed.
    let bobPage;
    await step('at level 40 a user needs a third method', async () => {
      const p = await newPage();
      bobPage = p;
      await startLogin(p, bob.username);
      check((await score(p)).includes('0 of 40'), 'level 40 not applied');
      await submitPassword(p, PASSWORD);
      let mark = await sendCode(p, 'AUTH_METHOD_SMS_OTP');
      await enterCode(p, await waitForCode(mark, 'sms', bob.phone));
      await expectPath(p, '/login');
      const s = await score(p);
      check(s.includes('30 of 40'), `score: ${s}`);
      await shot(p, '18-third-method');
      mark = await sendCode(p, 'AUTH_METHOD_EMAIL_OTP');
      await enterCode(p, await waitForCode(mark, 'email', bob.email));
      await answerRemember(p, false);
      await expectPath(p, '/account');
      const c = await claims(p);
      check(c.includes('Level (acr) 40'), `claims: ${c}`);
    });
    await step('a password change needs the current password, then signs out; the new one works', async () => {
      const p = bobPage;
      await goto(p, '/profile');
      const newPassword = `${PASSWORD} renewed`;
      const fill = async (current) => {
        for (const [id, value] of [['#current_password', current], ['#new_password', newPassword], ['#new_password_again', newPassword]]) {
          await p.$eval(id, (el) => { el.value = ''; });
          await p.type(id, value);
        }
        await clickAndWait(p, '#password-form button[type=submit]');
      };
      await fill('not my password');
      const error = await text(p, '#current_password-error');
      check(error.includes('not your current password'), `wrong current password: ${error}`);
      await shot(p, '19-password-wrong');
      await fill(PASSWORD);
      await expectPath(p, '/');
      check((await text(p, '.alert.notice')).includes('password was changed'), 'no notice');
      await startLogin(p, bob.username);
      await submitPassword(p, newPassword);
      check((await score(p)).includes('20 of 40'), 'the new password does not count');
      await p.browserContext().close();
    });

    // ---- The later methods: authenticator app, recovery codes, a remembered device; the
    // reauth redirect. Level 40: password 20 + any one of them 20.
    await step('the admin gives the authenticator app, recovery codes, remembered devices and SMS 20 points', async () => {
      await goto(adminPage, settingsUrl);
      for (const m of ['TOTP', 'RECOVERY_CODE', 'TRUSTED_DEVICE', 'SMS_OTP']) {
        await adminPage.$eval(`#points-AUTH_METHOD_${m}`, (el) => { el.value = ''; });
        await adminPage.type(`#points-AUTH_METHOD_${m}`, '20');
      }
      await clickAndWait(adminPage, '#settings-form button[type=submit]');
      const notice = await text(adminPage, '.alert.notice');
      check(notice.includes('Settings saved'), `notice: ${notice}`);
    });
    const ap = await newPage();
    await step('alice: password + a recovery code → signed in, the codes left shown', async () => {
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      const methods = await text(ap, 'ul.methods');
      check(methods.includes('Recovery code +20 points') && methods.includes('Authenticator app +20 points') === false,
        `methods (no authenticator app yet): ${methods}`);
      await clickAndWait(ap, 'a[data-method=AUTH_METHOD_RECOVERY_CODE]');
      await shot(ap, '20-recovery-code');
      await submitStepCode(ap, 'AUTH_METHOD_RECOVERY_CODE', aliceCodes[0]);
      await shot(ap, '21-remember-device');
      await answerRemember(ap, false);
      await expectPath(ap, '/account');
      const left = await text(ap, '#recovery-left');
      check(left.includes('9 recovery codes left — make new ones in your profile'), `notice: ${left}`);
      check((await claims(ap)).includes('Recovery code'), 'the claims do not name the recovery code');
      await shot(ap, '22-recovery-codes-left');
    });
    await step('a used recovery code is refused the second time; another one works', async () => {
      await signOut(ap);
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      await submitStepCode(ap, 'AUTH_METHOD_RECOVERY_CODE', aliceCodes[0]);
      await expectPath(ap, '/login/recovery-code');
      const error = await text(ap, '#code-error');
      check(/That recovery code is not right\. \d+ attempts? left\./.test(error), `error: ${error}`);
      check(await ap.$eval('#code', (el) => el.getAttribute('aria-invalid')) === 'true', 'the field is not marked invalid');
      await shot(ap, '23-recovery-code-used');
      await submitStepCode(ap, 'AUTH_METHOD_RECOVERY_CODE', aliceCodes[1]);
      await answerRemember(ap, false);
      check((await text(ap, '#recovery-left')).includes('8 recovery codes left'), 'codes left');
    });
    await step('alice: password + a code from her authenticator app (the step after the enrolment\'s)', async () => {
      await goto(ap, '/profile');
      await clickAndWait(ap, '#totp-start');
      const secret = (await text(ap, '#totp-secret')).replace(/\s+/g, '');
      const enrolled = Math.floor(Date.now() / 30000);
      await ap.type('#code', totpCode(secret, enrolled * 30000));
      await clickAndWait(ap, '#totp-confirm-form button[type=submit]');
      check((await text(ap, '#totp-status')).includes('Enabled'), 'not enrolled');
      await signOut(ap);
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      await clickAndWait(ap, 'a[data-method=AUTH_METHOD_TOTP]');
      await shot(ap, '24-totp');
      // Tally takes each 30 s step once: the enrolment used its step, so the sign-in waits for
      // the next one (a clock boundary, polled).
      while (Math.floor(Date.now() / 30000) <= enrolled) await new Promise((resolve) => setTimeout(resolve, 200));
      const code = totpCode(secret, Date.now());
      const wrong = code === '000000' ? '111111' : '000000';
      await submitStepCode(ap, 'AUTH_METHOD_TOTP', wrong);
      await expectPath(ap, '/login/totp');
      const error = await text(ap, '#code-error');
      check(/That code is not right\. \d+ attempts? left\./.test(error), `error: ${error}`);
      await shot(ap, '25-totp-wrong');
      await submitStepCode(ap, 'AUTH_METHOD_TOTP', code);
      await answerRemember(ap, false);
      await expectPath(ap, '/account');
      const c = await claims(ap);
      check(c.includes('Level (acr) 40') && c.includes('Password, Authenticator app'), `claims: ${c}`);
    });
    let deviceCookie;
    await step('"remember this device" after password + SMS: next time the password alone completes', async () => {
      await signOut(ap);
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      const mark = await sendCode(ap, 'AUTH_METHOD_SMS_OTP');
      await enterCode(ap, await waitForCode(mark, 'sms', alice.phone));
      // alice is a plain user: the directory's settings are for its admins (API.md), so the
      // offer cannot name the points; the notice names the days Tally keeps the device.
      const offer = await text(ap, '#remember-offer');
      check(offer.includes('Chrome on Linux') && offer.includes('the points your directory gives remembered devices') &&
        !/\d+ points?/.test(offer), `offer: ${offer}`);
      await answerRemember(ap, true);
      await expectPath(ap, '/account');
      const notice = await text(ap, '.alert.notice');
      check(notice.includes('This device is remembered for 90 days'), `notice: ${notice}`);
      deviceCookie = (await ap.cookies(WEB_URL)).find((c) => c.name === 'tally_device');
      check(deviceCookie && deviceCookie.httpOnly && deviceCookie.sameSite === 'Strict' &&
        deviceCookie.expires > Date.now() / 1000 && deviceCookie.expires <= Date.now() / 1000 + 90 * 86400 + 60,
      `device cookie: ${JSON.stringify(deviceCookie && { ...deviceCookie, value: '…' })}`);
      check(await ap.evaluate(() => document.cookie) === '', 'a cookie is visible to JavaScript');
      check(!(await ap.content()).includes(JSON.parse(decodeURIComponent(deviceCookie.value)).token), 'the device token is in the page');
      await signOut(ap);
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      await expectPath(ap, '/account');
      const c = await claims(ap);
      check(c.includes('Level (acr) 40') && c.includes('Password, Remembered device'), `claims: ${c}`);
    });
    await step('profile: the remembered device is listed', async () => {
      await goto(ap, '/profile');
      const list = await text(ap, '#device-list');
      check(list.includes('Chrome on Linux') && list.includes('(this device)') && list.includes('last used'), `devices: ${list}`);
      await shot(ap, '26-remembered-devices');
    });
    await step('reauth: forgetting the device with a day-old sign-in asks to confirm it is you, then goes through', async () => {
      await ap.setCookie({ name: 'tally_session', value: STALE_SESSION, url: WEB_URL, httpOnly: true, sameSite: 'Strict' });
      await goto(ap, '/account');
      check((await claims(ap)).includes('ses_browser_stale'), 'the old session is not in use');
      await goto(ap, '/profile');
      await clickAndWait(ap, 'form[action="/profile/devices/forget"] button');
      await expectPath(ap, '/reauth');
      check(new URL(ap.url()).searchParams.get('return_to') === '/profile', `at ${ap.url()}`);
      check((await text(ap, '#reauth-why')).includes('recent sign-in'), 'no reason shown');
      await shot(ap, '27-reauth');
      await clickAndWait(ap, '#reauth');
      await expectPath(ap, '/login');
      await submitPassword(ap, PASSWORD);
      await submitStepCode(ap, 'AUTH_METHOD_RECOVERY_CODE', aliceCodes[2]);  // SMS is cooling down
      await expectPath(ap, '/profile');
      check((await text(ap, '.alert.notice')).includes('that was you'), 'not back on the profile');
      await clickAndWait(ap, 'form[action="/profile/devices/forget"] button');
      await expectPath(ap, '/profile');
      check((await text(ap, '.alert.notice')).includes('device was forgotten'), 'not forgotten');
      check((await text(ap, '#device-list')).includes('No remembered devices'), 'still listed');
      check(!(await ap.cookies(WEB_URL)).some((c) => c.name === 'tally_device'), 'this browser still holds the device');
    });
    await step('a forgotten device no longer counts, and its stale token leaves the cookie quietly', async () => {
      await signOut(ap);
      // As if the device had been forgotten from another browser: the old token comes back.
      await ap.setCookie({ name: deviceCookie.name, value: deviceCookie.value, url: WEB_URL,
        httpOnly: true, sameSite: 'Strict', expires: deviceCookie.expires });
      await startLogin(ap, alice.username);
      await submitPassword(ap, PASSWORD);
      await expectPath(ap, '/login');
      check((await score(ap)).includes('20 of 40'), 'the forgotten device still counts');
      check(!(await text(ap, 'main')).includes('This device is remembered'), 'the page says the device counted');
      check(!(await ap.cookies(WEB_URL)).some((c) => c.name === 'tally_device'), 'the stale device cookie stays');
      await ap.browserContext().close();
    });
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  console.log(`screenshots: ${SHOTS}`);
  process.exit(failed === 0 ? 0 : 1);
}, (e) => {
  if (failed === 0) console.log(`FAIL set-up: ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, ${failed || 1} failed`);
  console.log(`screenshots: ${SHOTS}`);
  process.exit(1);
});
