'use strict';
// The pages. Plain functions from data to escaped HTML (src/web.js `html`); no inline scripts or
// styles (the Content-Security-Policy forbids them): public/app.js reads data-* attributes.
const { html } = require('./web');

// How each method is named on the pages, and how a login completes it. A method Tally adds
// later (its enum comes from the proto at run time) is listed with its enum name until it gets
// a line here and a step page of its own.
const METHODS = {
  AUTH_METHOD_PASSWORD: { label: 'Password', step: { href: '/login/password' } },
  AUTH_METHOD_SMS_OTP: { label: 'Code by SMS', step: { send: 'CHANNEL_SMS' } },
  AUTH_METHOD_EMAIL_OTP: { label: 'Code by e-mail', step: { send: 'CHANNEL_EMAIL' } },
  AUTH_METHOD_PASSKEY: { label: 'Passkey', step: { href: '/login/passkey' } },
  AUTH_METHOD_TOTP: { label: 'Authenticator app', step: { href: '/login/totp' } },
  AUTH_METHOD_RECOVERY_CODE: { label: 'Recovery code', step: { href: '/login/recovery-code' } },
  AUTH_METHOD_TRUSTED_DEVICE: { label: 'Remembered device' },
};

function methodLabel(method) {
  if (METHODS[method]) return METHODS[method].label;
  const name = String(method).replace(/^AUTH_METHOD_/, '').replace(/_/g, ' ').toLowerCase();
  return name.charAt(0).toUpperCase() + name.slice(1);
}

const CHANNELS = {
  CHANNEL_SMS: { label: 'SMS', method: 'AUTH_METHOD_SMS_OTP' },
  CHANNEL_EMAIL: { label: 'e-mail', method: 'AUTH_METHOD_EMAIL_OTP' },
};

const TIERS = {
  TIER_FREEMIUM: 'Freemium', TIER_EXPLORER: 'Explorer', TIER_PROFESSIONAL: 'Professional',
  TIER_ENTERPRISE: 'Enterprise',
};

function seconds(duration) {
  if (!duration) return 0;
  return Number(duration.seconds || 0) + Number(duration.nanos || 0) / 1e9;
}

function timestampDate(ts) {
  if (!ts || (Number(ts.seconds || 0) === 0 && Number(ts.nanos || 0) === 0)) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor(Number(ts.nanos || 0) / 1e6));
}

function time(ts) {
  const d = timestampDate(ts);
  if (!d) return html`<span class="muted">never</span>`;
  const text = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

function durationText(s) {
  const total = Math.max(1, Math.ceil(s));
  if (total < 60) return plural(total, 'second', 'seconds');
  const minutes = Math.ceil(total / 60);
  return plural(minutes, 'minute', 'minutes');
}

// ---- Layout

function layout({ title, csrf, viewer, body, page = '' }) {
  const nav = viewer ? html`
    <nav aria-label="Main">
      <a href="/account">Account</a>
      <a href="/profile">Profile</a>
      ${viewer.roles.includes('admin') ? html`<a href="/admin/directories">Directories</a>` : ''}
      <form method="post" action="/logout" class="inline">
        <input type="hidden" name="_csrf" value="${csrf}">
        <button type="submit" class="link">Sign out</button>
      </form>
    </nav>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="csrf-token" content="${csrf}">
  <title>${title} · Tally</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/vendor/simplewebauthn-browser.js" defer></script>
  <script src="/static/app.js" defer></script>
</head>
<body data-page="${page}">
  <a class="skip" href="#main">Skip to content</a>
  <header class="top">
    <a class="brand" href="/">Tally</a>
    ${nav}
  </header>
  <main id="main">
    ${body}
  </main>
  <footer>An example login page calling Tally's gRPC API.</footer>
</body>
</html>`;
}

function alert(kind, text, id) {
  if (!text) return '';
  return html`<p class="alert ${kind}" role="${kind === 'error' ? 'alert' : 'status'}" ${id ? html`id="${id}"` : ''}>${text}</p>`;
}

// An empty, hidden alert that app.js fills in (passkey ceremonies run without a page load).
function liveError(id) { return html`<p class="alert error" role="alert" id="${id}" hidden></p>`; }

function csrfField(csrf) { return html`<input type="hidden" name="_csrf" value="${csrf}">`; }

// ---- Sign in

function signInPage({ csrf, directoryId, askDirectory, username, error, notice }) {
  return layout({
    title: 'Sign in', csrf, page: 'sign-in', body: html`
    <section class="card narrow">
      <h1>Sign in</h1>
      ${alert('error', error)}${alert('notice', notice)}
      <form method="post" action="/login" id="sign-in-form">
        ${csrfField(csrf)}
        ${askDirectory ? html`
        <label for="directory">Directory</label>
        <input id="directory" name="directory" required autocomplete="organization"
               pattern="dir_[A-Za-z0-9_-]+" value="${directoryId}" placeholder="dir_…">` :
        html`<input type="hidden" name="directory" value="${directoryId}">`}
        <label for="username">Username</label>
        <input id="username" name="username" required autocomplete="username webauthn"
               autocapitalize="none" spellcheck="false" value="${username || ''}" autofocus>
        <button type="submit" class="primary">Continue</button>
      </form>
      <div class="or" aria-hidden="true"><span>or</span></div>
      <button type="button" id="passkey-first" class="secondary" data-passkey-login="first"
              data-directory-field="directory">Sign in with a passkey</button>
      <p class="hint">A passkey alone is enough: no username, no password.</p>
      ${liveError('passkey-error')}
    </section>` });
}

function progress(state) {
  const score = state.score;
  const required = state.required_level;
  return html`
    <div class="progress">
      <label for="score">Authentication level</label>
      <progress id="score" max="${required}" value="${Math.min(score, required)}"
                aria-valuetext="${score} of ${required} points">${score} of ${required}</progress>
      <p class="score"><strong>${score} of ${required}</strong> points</p>
    </div>`;
}

function lastStepMessage(state) {
  const step = state.last_step;
  if (!step || step.outcome !== 'STEP_OUTCOME_REJECTED') return '';
  const what = { AUTH_METHOD_PASSWORD: 'That password is not right.',
    AUTH_METHOD_SMS_OTP: 'That code is not right.', AUTH_METHOD_EMAIL_OTP: 'That code is not right.',
    AUTH_METHOD_PASSKEY: 'That passkey was not accepted.',
    AUTH_METHOD_TOTP: 'That code is not right.',
    AUTH_METHOD_RECOVERY_CODE: 'That recovery code is not right.' }[step.method] ||
    `${methodLabel(step.method)} was not accepted.`;
  const isCode = step.method === 'AUTH_METHOD_SMS_OTP' || step.method === 'AUTH_METHOD_EMAIL_OTP';
  const left = step.attempts_left > 0
    ? ` ${plural(step.attempts_left, 'attempt', 'attempts')} left${isCode ? ' for this code' : ''}.`
    : (isCode ? ' This code can no longer be used: send a new one.' : '');
  return what + left;
}

function lockedNotice(state) {
  if (state.status !== 'LOGIN_STATUS_LOCKED') return '';
  const s = seconds(state.retry_after);
  return html`<div class="alert error" role="alert">
      <p><strong>Too many failed attempts.</strong> For your safety, signing in is paused.</p>
      <p>Try again in <span data-countdown="${Math.ceil(s)}" data-countdown-done="You can try again now: reload the page.">${durationText(s)}</span>.</p>
    </div>`;
}

function loginHeader(state, username, title) {
  return html`
    <h1>${title}</h1>
    ${username ? html`<p class="who">Signing in as <strong>${username}</strong>
      · <a href="/login/restart">not you?</a></p>` : ''}
    ${progress(state)}
    ${lockedNotice(state)}`;
}

function methodsPage({ csrf, state, username, error }) {
  const locked = state.status === 'LOGIN_STATUS_LOCKED';
  const done = state.completed_methods || [];
  const offered = state.offered_methods || [];
  const choice = (mp) => {
    const meta = METHODS[mp.method] || {};
    const label = html`<span class="name">${methodLabel(mp.method)}</span>
      <span class="points">+${mp.points} points</span>`;
    if (!meta.step) {
      return html`<li><span class="method disabled">${label}
        <span class="muted">(not supported by this page yet)</span></span></li>`;
    }
    if (meta.step.send) {
      return html`<li><form method="post" action="/login/otp/send">${csrfField(csrf)}
        <input type="hidden" name="channel" value="${meta.step.send}">
        <button type="submit" class="method" ${locked ? 'disabled' : ''}
                data-method="${mp.method}">${label}</button></form></li>`;
    }
    return html`<li><a class="method ${locked ? 'disabled' : ''}" href="${meta.step.href}"
      data-method="${mp.method}" ${locked ? html`aria-disabled="true" tabindex="-1"` : ''}>${label}</a></li>`;
  };
  return layout({
    title: 'Choose how to sign in', csrf, page: 'methods', body: html`
    <section class="card narrow">
      ${loginHeader(state, username, 'Sign in')}
      ${alert('error', error || lastStepMessage(state))}
      ${done.length ? html`<ul class="done" aria-label="Completed">
        ${done.map((m) => html`<li>✓ ${methodLabel(m)}</li>`)}</ul>` : ''}
      ${done.includes('AUTH_METHOD_TRUSTED_DEVICE') ? html`<p class="hint" id="device-counted">This
        device is remembered: it counts toward your level.</p>` : ''}
      <h2>${done.length ? 'Add another method' : 'Choose a method'}</h2>
      ${offered.length ? html`<ul class="methods">${offered.map(choice)}</ul>` :
        html`<p>No method is left that can complete this sign-in. Ask your administrator.</p>`}
      <p><a href="/login/restart">Start over</a></p>
    </section>` });
}

// One step of a login (a page per method): the header with the score, the rejection of this
// method's last try or the error, and the step's form from `content(locked, rejected)`. Later
// methods (TOTP, recovery codes) get their pages through this too.
function stepPage({ csrf, state, username, error, method, title, heading, page, errorId, intro, content }) {
  const locked = state.status === 'LOGIN_STATUS_LOCKED';
  const rejected = state.last_step && state.last_step.method === method ? lastStepMessage(state) : '';
  return layout({
    title, csrf, page, body: html`
    <section class="card narrow">
      ${loginHeader(state, username, heading)}
      ${intro || ''}
      ${alert('error', error || rejected, errorId)}
      ${content(locked, rejected)}
      <p><a href="/login">Use another method</a></p>
    </section>` });
}

const disabledIf = (condition) => (condition ? 'disabled' : '');
const invalidIf = (rejected, id) => (rejected ? html`aria-describedby="${id}" aria-invalid="true"` : '');

function passwordPage({ csrf, state, username, error }) {
  return stepPage({
    csrf, state, username, error, method: 'AUTH_METHOD_PASSWORD', title: 'Password',
    heading: 'Enter your password', page: 'password', errorId: 'password-error',
    content: (locked, rejected) => html`
      <form method="post" action="/login/password">
        ${csrfField(csrf)}
        <input type="text" name="username" value="${username || ''}" autocomplete="username"
               class="visually-hidden" tabindex="-1" aria-hidden="true" readonly>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" required autocomplete="current-password"
               autofocus ${disabledIf(locked)} ${invalidIf(rejected, 'password-error')}>
        <button type="submit" class="primary" ${disabledIf(locked)}>Continue</button>
      </form>` });
}

function otpPage({ csrf, state, username, error }) {
  const delivery = state.otp_delivery;
  const channel = CHANNELS[delivery.channel] || { label: 'message', method: '' };
  const resendAt = timestampDate(delivery.resend_after);
  const wait = resendAt ? Math.max(0, Math.ceil((resendAt.getTime() - Date.now()) / 1000)) : 0;
  return stepPage({
    csrf, state, username, error, method: channel.method, title: 'Enter the code',
    heading: 'Enter the code', page: 'otp', errorId: 'code-error',
    intro: html`<p>We sent a 6-digit code by ${channel.label} to <strong>${delivery.masked_destination}</strong>.</p>`,
    content: (locked, rejected) => html`
      <form method="post" action="/login/otp/verify">
        ${csrfField(csrf)}
        <label for="code">Code</label>
        <input id="code" name="code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
               autocomplete="one-time-code" autofocus ${disabledIf(locked)} ${invalidIf(rejected, 'code-error')}>
        <button type="submit" class="primary" ${disabledIf(locked)}>Verify</button>
      </form>
      <form method="post" action="/login/otp/send" class="resend">
        ${csrfField(csrf)}
        <input type="hidden" name="channel" value="${delivery.channel}">
        <button type="submit" class="secondary" id="resend" ${disabledIf(wait > 0 || locked)}
                data-enable-after="${wait}">Send a new code</button>
        ${wait > 0 ? html`<span class="hint" aria-live="polite">You can ask for a new code in
          <span data-countdown="${wait}" data-countdown-done="">${durationText(wait)}</span>.</span>` : ''}
      </form>` });
}

// An authenticator app's code or a recovery code: one field, the form posting to `action`.
function codeStepPage({ csrf, state, username, error, method, title, heading, page, action, label,
  hint, input }) {
  return stepPage({
    csrf, state, username, error, method, title, heading, page, errorId: 'code-error',
    intro: html`<p>${hint}</p>`,
    content: (locked, rejected) => html`
      <form method="post" action="${action}">
        ${csrfField(csrf)}
        <label for="code">${label}</label>
        <input id="code" name="code" required ${input} autocomplete="one-time-code"
               autocapitalize="none" spellcheck="false" autofocus ${disabledIf(locked)}
               ${invalidIf(rejected, 'code-error')}>
        <button type="submit" class="primary" ${disabledIf(locked)}>Verify</button>
      </form>` });
}

function totpPage({ csrf, state, username, error }) {
  return codeStepPage({
    csrf, state, username, error, method: 'AUTH_METHOD_TOTP', title: 'Authenticator app',
    heading: 'Enter the code from your app', page: 'totp-login', action: '/login/totp',
    label: 'Code from the app', hint: 'Open your authenticator app and enter the 6-digit code it shows for this account.',
    input: html`inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7"` });
}

function recoveryCodePage({ csrf, state, username, error }) {
  return codeStepPage({
    csrf, state, username, error, method: 'AUTH_METHOD_RECOVERY_CODE', title: 'Recovery code',
    heading: 'Use a recovery code', page: 'recovery-login', action: '/login/recovery-code',
    label: 'Recovery code', hint: 'Enter one of the recovery codes you saved. Each code works once.',
    input: html`maxlength="64"` });
}

// Right after a sign-in: remember this browser, so that next time it counts (`points`) beside
// the password or a passkey, for as long as the directory keeps remembered devices.
// points null: the session may not read the directory's settings (only its admins may), so
// the offer names neither the points nor the days; the notice after it names the days.
function rememberPage({ csrf, viewer, name, points, maxAgeSeconds, action }) {
  const days = Math.floor((maxAgeSeconds || 0) / 86400);
  return layout({
    title: 'Remember this device?', csrf, viewer, page: 'remember', body: html`
    <section class="card narrow">
      <h1>Remember this device?</h1>
      ${points === null ? html`<p id="remember-offer">You are signed in. If this is your own device, Tally can
        remember it: next time, <strong>${name}</strong> counts beside your password or passkey with the
        points your directory gives remembered devices, for as long as your directory keeps them.</p>`
    : html`<p id="remember-offer">You are signed in. If this is your own device, Tally can remember it:
        next time, <strong>${name}</strong> counts <strong>${plural(points, 'point', 'points')}</strong>
        beside your password or passkey${days > 0 ? html`, for ${plural(days, 'day', 'days')}` : ''}.</p>`}
      <p class="hint">Do not do this on a shared or public computer. You can forget the device in
        your profile at any time.</p>
      <form method="post" action="${action}" class="row">
        ${csrfField(csrf)}
        <button type="submit" name="remember" value="yes" class="primary" id="remember-yes">Remember this device</button>
        <button type="submit" name="remember" value="no" class="secondary" id="remember-no">Not now</button>
      </form>
    </section>` });
}

function passkeyPage({ csrf, state, username, error }) {
  return stepPage({
    csrf, state, username, error, method: 'AUTH_METHOD_PASSKEY', title: 'Passkey',
    heading: 'Use your passkey', page: 'passkey',
    content: (locked) => html`
      <p>Your device asks for your fingerprint, face or screen lock.</p>
      <button type="button" class="primary" id="passkey-login" data-passkey-login="login"
              ${disabledIf(locked)}>Use passkey</button>
      ${liveError('passkey-error')}` });
}

// ---- Signed in

function passkeyList({ csrf, passkeys, canAdd, returnTo }) {
  return html`
    <section class="card" aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">Passkeys</h2>
      ${passkeys.length ? html`<ul class="list" id="passkey-list">${passkeys.map((p) => html`
        <li>
          <div><strong>${p.nickname || 'Passkey'}</strong>
            <span class="muted">added ${time(p.create_time)} · last used ${time(p.last_use_time)}
            ${p.backup_eligible ? ' · synced' : ''}</span></div>
          <form method="post" action="/passkeys/delete">
            ${csrfField(csrf)}
            <input type="hidden" name="credential_id" value="${p.credential_id}">
            <input type="hidden" name="return_to" value="${returnTo}">
            <button type="submit" class="danger small"
                    aria-label="Delete passkey ${p.nickname || p.credential_id}">Delete</button>
          </form>
        </li>`)}</ul>` : html`<p id="passkey-list">No passkeys yet.</p>`}
      ${canAdd ? html`
      <form id="passkey-add" class="row" data-passkey-register>
        <label for="nickname">Name for a new passkey</label>
        <input id="nickname" name="nickname" maxlength="64" placeholder="e.g. My laptop">
        <button type="submit" class="secondary">Add a passkey</button>
      </form>` : html`<p class="hint">Adding a passkey needs a session at your directory's level.</p>`}
      ${liveError('passkey-error')}
    </section>`;
}

const CLAIM_ROWS = [
  ['User', (c) => c.user_id], ['Directory', (c) => c.directory_id],
  ['Level (acr)', (c) => String(c.level)], ['Methods', (c) => c.methods.map(methodLabel).join(', ')],
  ['Roles', (c) => c.roles.join(', ') || 'none'], ['Session', (c) => c.session_id],
  ['Signed in at', (c) => time(c.auth_time)], ['Expires', (c) => time(c.expire_time)],
];

function accountPage({ csrf, viewer, user, passkeys, notice, error, directoryLevel, recoveryCodesLeft }) {
  return layout({
    title: 'Signed in', csrf, viewer, page: 'account', body: html`
    <section class="card">
      <h1>Welcome, ${user.username}</h1>
      ${alert('notice', notice)}${alert('error', error)}
      ${recoveryCodesLeft === undefined ? '' : html`<p class="alert notice" role="status" id="recovery-left">You
        used a recovery code: ${plural(recoveryCodesLeft, 'recovery code', 'recovery codes')} left —
        <a href="/profile#recovery-title">make new ones in your profile</a>.</p>`}
      <h2>Your session</h2>
      <dl class="claims" id="claims">
        ${CLAIM_ROWS.map(([k, f]) => html`<dt>${k}</dt><dd>${f(viewer)}</dd>`)}
      </dl>
    </section>
    ${passkeyList({ csrf, passkeys, canAdd: directoryLevel === undefined || viewer.level >= directoryLevel, returnTo: '/account' })}
    <section class="card" aria-labelledby="stepup-title">
      <h2 id="stepup-title">Step up</h2>
      <p>Prove it is you again, for example before a sensitive change, or reach a higher level.</p>
      <form method="post" action="/account/step-up" class="row">
        ${csrfField(csrf)}
        <label for="level">Level to reach</label>
        <input id="level" name="level" type="number" min="1" max="1000" required value="${viewer.level}">
        <label class="check"><input type="checkbox" name="keep_recent" value="1">
          Methods I used in the last 5 minutes still count</label>
        <button type="submit" class="secondary" id="step-up">Step up</button>
      </form>
    </section>` });
}

function profilePage({ csrf, viewer, user, passkeys, notice, error, fieldErrors = {}, directoryLevel,
  pendingChange, devices = [], thisDeviceId = '' }) {
  const atLevel = directoryLevel === undefined || viewer.level >= directoryLevel;
  return layout({
    title: 'Personal information', csrf, viewer, page: 'profile', body: html`
    <section class="card">
      <h1>Personal information</h1>
      ${alert('notice', notice)}${alert('error', error)}
      <dl class="claims"><dt>Username</dt><dd>${user.username}</dd>
        <dt>Roles</dt><dd>${user.roles.join(', ') || 'none'}</dd>
        <dt>Password</dt><dd>${user.has_password ? 'set' : 'none'}</dd></dl>
      <h2>Contact</h2>
      ${pendingChange ? html`<p class="alert notice" role="status" id="pending-change">A change to
        <strong>${pendingChange.to}</strong> is waiting for its code.
        <a href="/profile/contact/confirm">Enter the code</a></p>` : ''}
      <p class="hint">A new phone number or e-mail address counts once you enter the code we send
        to it; change one of them at a time.</p>
      ${contactForm({ csrf, action: '/profile/contact', user, fieldErrors })}
    </section>
    ${passwordForm({ csrf, user, fieldErrors })}
    ${passkeyList({ csrf, passkeys, canAdd: atLevel, returnTo: '/profile' })}
    ${authenticatorApp({ csrf, user, atLevel })}
    ${deviceList({ csrf, devices, thisDeviceId })}` });
}

// Remembered devices (ListTrustedDevices), each with "Forget" (ForgetDevice, a fresh sign-in).
function deviceList({ csrf, devices, thisDeviceId }) {
  return html`
    <section class="card" aria-labelledby="devices-title">
      <h2 id="devices-title">Remembered devices</h2>
      ${devices.length ? html`<ul class="list" id="device-list">${devices.map((d) => html`
        <li>
          <div><strong>${d.device_name}</strong>${d.device_id === thisDeviceId ? html` <span class="muted">(this device)</span>` : ''}
            <span class="muted">remembered ${time(d.create_time)} · last used ${time(d.last_used_time)}
            · counts until ${time(d.expire_time)}</span></div>
          <form method="post" action="/profile/devices/forget">
            ${csrfField(csrf)}
            <input type="hidden" name="device_id" value="${d.device_id}">
            <button type="submit" class="danger small" aria-label="Forget ${d.device_name}">Forget</button>
          </form>
        </li>`)}</ul>` : html`<p id="device-list">No remembered devices. After you sign in, you can
        choose to have this device remembered.</p>`}
    </section>`;
}

function passwordForm({ csrf, user, fieldErrors }) {
  const field = (name, label, autocomplete) => html`
        <label for="${name}">${label}</label>
        <input id="${name}" name="${name}" type="password" autocomplete="${autocomplete}" required
               ${invalid(fieldErrors, name)}>
        ${fieldError(fieldErrors, name)}`;
  return html`
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <form method="post" action="/profile/password" class="contact" id="password-form">
        ${csrfField(csrf)}
        <input type="text" name="username" value="${user.username}" autocomplete="username"
               class="visually-hidden" tabindex="-1" aria-hidden="true" readonly>
        ${user.has_password ? field('current_password', 'Current password', 'current-password') : ''}
        ${field('new_password', 'New password', 'new-password')}
        ${field('new_password_again', 'New password again', 'new-password')}
        <p class="hint">Changing your password signs you out everywhere, here too.</p>
        <button type="submit" class="secondary">${user.has_password ? 'Change password' : 'Set a password'}</button>
      </form>
    </section>`;
}

function authenticatorApp({ csrf, user, atLevel }) {
  const left = Number(user.recovery_codes_left || 0);
  return html`
    <section class="card" aria-labelledby="totp-title">
      <h2 id="totp-title">Authenticator app</h2>
      ${user.has_totp ? html`
      <p id="totp-status"><strong class="ok">✓ Enabled.</strong> Codes from your authenticator app count when you sign in.</p>
      <form method="post" action="/profile/totp/delete">
        ${csrfField(csrf)}
        <button type="submit" class="danger small" id="totp-remove">Remove the authenticator app</button>
      </form>` : html`
      <p id="totp-status">Not set up. Use an app such as FreeOTP, Aegis or Google Authenticator to
        get a new sign-in code every 30 seconds.</p>
      ${atLevel ? html`<form method="post" action="/profile/totp/start">
        ${csrfField(csrf)}
        <button type="submit" class="secondary" id="totp-start">Set up an authenticator app</button>
      </form>` : html`<p class="hint">Setting up an app needs a session at your directory's level.</p>`}`}
      <h3 id="recovery-title">Recovery codes</h3>
      <p id="recovery-status">${left > 0 ? `${left} unused recovery ${left === 1 ? 'code' : 'codes'} left.` : 'No recovery codes.'}
        Each one signs you in once when you cannot use your other methods.</p>
      ${atLevel ? html`<form method="post" action="/profile/recovery-codes">
        ${csrfField(csrf)}
        <button type="submit" class="secondary" id="recovery-generate">${left > 0 ? 'Make new recovery codes' : 'Make recovery codes'}</button>
        ${left > 0 ? html`<p class="hint">New codes replace the ones you have.</p>` : ''}
      </form>` : html`<p class="hint">Making recovery codes needs a session at your directory's level.</p>`}
    </section>`;
}

const CONTACT_CHANNELS = { email: 'e-mail', sms: 'SMS' };

function contactConfirmPage({ csrf, viewer, user, pending, notice, error }) {
  // "Send a new code" saves the same change again: the other destination as stored.
  const again = pending.channel === 'email'
    ? { email: pending.to, phone_number: user.phone_number }
    : { email: user.email, phone_number: pending.to };
  return layout({
    title: 'Confirm your new contact details', csrf, viewer, page: 'contact-confirm', body: html`
    <section class="card narrow">
      <h1>Enter the code</h1>
      ${alert('notice', notice)}${alert('error', error, 'code-error')}
      <p id="sent-to">We sent a 6-digit code by ${CONTACT_CHANNELS[pending.channel] || 'message'} to
        <strong>${pending.to}</strong>. Your new ${pending.channel === 'email' ? 'e-mail address' : 'phone number'}
        counts once you enter it here.</p>
      <form method="post" action="/profile/contact/confirm" id="contact-confirm-form">
        ${csrfField(csrf)}
        <label for="code">Code</label>
        <input id="code" name="code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
               autocomplete="one-time-code" autofocus ${error ? html`aria-invalid="true" aria-describedby="code-error"` : ''}>
        <button type="submit" class="primary">Confirm</button>
      </form>
      <form method="post" action="/profile/contact" class="resend">
        ${csrfField(csrf)}
        <input type="hidden" name="email" value="${again.email}">
        <input type="hidden" name="phone_number" value="${again.phone_number}">
        <button type="submit" class="secondary">Send a new code</button>
      </form>
      <form method="post" action="/profile/contact/cancel">
        ${csrfField(csrf)}
        <button type="submit" class="link-dark">Cancel the change</button>
      </form>
    </section>` });
}

// The QR code is Tally's SVG, shown as an image (a data: URI): an <img> never runs a script or
// touches the page, whatever the SVG holds.
function qrImage(svg) {
  return `data:image/svg+xml;base64,${Buffer.from(String(svg), 'utf8').toString('base64')}`;
}

function totpEnrollPage({ csrf, viewer, enrollment, error }) {
  const secret = enrollment ? String(enrollment.secret_base32) : '';
  return layout({
    title: 'Set up an authenticator app', csrf, viewer, page: 'totp', body: html`
    <section class="card narrow">
      <h1>Set up an authenticator app</h1>
      ${alert('error', error, 'code-error')}
      ${enrollment ? html`
      <ol class="steps">
        <li>Scan this QR code with your authenticator app.
          <img id="totp-qr" class="qr" src="${qrImage(enrollment.qr_svg)}" width="220" height="220"
               alt="QR code for your authenticator app (the key below, as a picture)">
          <a href="${enrollment.otpauth_uri.startsWith('otpauth://') ? enrollment.otpauth_uri : '#'}">On this phone? Open it in your app</a></li>
        <li>Or type this key into the app by hand:
          <code id="totp-secret" class="secret">${(secret.match(/.{1,4}/g) || []).join(' ')}</code>
          <span class="hint">(time-based, 6 digits, every 30 seconds)</span></li>
        <li>Enter the code the app shows now.</li>
      </ol>
      <p class="hint">This key is shown once. It expires unused ${time(enrollment.expire_time)}.</p>` : html`
      <p>If you did not add the account to your app yet, start again for a new QR code.</p>`}
      <form method="post" action="/profile/totp/confirm" id="totp-confirm-form">
        ${csrfField(csrf)}
        <label for="code">Code from the app</label>
        <input id="code" name="code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
               autocomplete="one-time-code" autofocus ${error ? html`aria-invalid="true" aria-describedby="code-error"` : ''}>
        <button type="submit" class="primary">Turn on</button>
      </form>
      <form method="post" action="/profile/totp/start">
        ${csrfField(csrf)}
        <button type="submit" class="secondary">Start again</button>
      </form>
      <p><a href="/profile">Back to your profile</a></p>
    </section>` });
}

function recoveryCodesPage({ csrf, viewer, codes }) {
  return layout({
    title: 'Your recovery codes', csrf, viewer, page: 'recovery-codes', body: html`
    <section class="card narrow">
      <h1>Your recovery codes</h1>
      <p class="alert notice" role="status">Write these down or print them now: they are shown only
        this once. Each code signs you in once. Codes you had before no longer work.</p>
      <ol class="codes" id="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
      <p><a href="/profile">I saved them: back to your profile</a></p>
    </section>` });
}

function reauthPage({ csrf, viewer, returnTo }) {
  return layout({
    title: 'Confirm it is you', csrf, viewer, page: 'reauth', body: html`
    <section class="card narrow">
      <h1>Confirm it is you</h1>
      <p id="reauth-why">For your safety, changing how you sign in or where your codes go needs a
        recent sign-in. Sign in once more with your methods; then you come back here and can make
        the change.</p>
      <form method="post" action="/account/step-up">
        ${csrfField(csrf)}
        <input type="hidden" name="return_to" value="${returnTo}">
        <button type="submit" class="primary" id="reauth">Confirm it is me</button>
      </form>
      <p><a href="${returnTo}">Not now</a></p>
    </section>` });
}

function fieldError(fieldErrors, name) {
  return fieldErrors[name] ? html`<p class="field-error" id="${name}-error">${fieldErrors[name]}</p>` : '';
}

function invalid(fieldErrors, name) {
  return fieldErrors[name] ? html`aria-invalid="true" aria-describedby="${name}-error"` : '';
}

function contactForm({ csrf, action, user, fieldErrors = {} }) {
  return html`
    <form method="post" action="${action}" class="contact">
      ${csrfField(csrf)}
      <label for="phone_number">Phone number</label>
      <input id="phone_number" name="phone_number" type="tel" autocomplete="tel"
             value="${user.phone_number}" placeholder="+31 6 1234 5678" ${invalid(fieldErrors, 'phone_number')}>
      ${fieldError(fieldErrors, 'phone_number')}
      <label for="email">E-mail address</label>
      <input id="email" name="email" type="email" autocomplete="email" value="${user.email}"
             ${invalid(fieldErrors, 'email')}>
      ${fieldError(fieldErrors, 'email')}
      <button type="submit" class="primary">Save contact details</button>
    </form>`;
}

// ---- Admin portal

function adminNav(directory, tab) {
  const base = `/admin/directories/${encodeURIComponent(directory.directory_id)}`;
  const item = (name, href, label) => html`<a href="${href}" ${tab === name ? html`aria-current="page" class="current"` : ''}>${label}</a>`;
  return html`
    <nav class="breadcrumbs" aria-label="Breadcrumb"><a href="/admin/directories">Directories</a>
      › <span>${directory.display_name}</span></nav>
    <h1>${directory.display_name}</h1>
    <p class="muted">${TIERS[directory.tier] || directory.tier} · ${directory.directory_id}</p>
    <nav class="tabs" aria-label="Directory">
      ${item('authentication', `${base}/authentication`, 'Authentication')}
      ${item('users', `${base}/users`, 'Users')}
    </nav>`;
}

function directoriesPage({ csrf, viewer, directories }) {
  return layout({
    title: 'Directories', csrf, viewer, page: 'directories', body: html`
    <section class="card">
      <h1>Directories</h1>
      <table><thead><tr><th scope="col">Name</th><th scope="col">Tier</th><th scope="col">Id</th></tr></thead>
      <tbody>${directories.map((d) => html`<tr>
        <td><a href="/admin/directories/${encodeURIComponent(d.directory_id)}/authentication">${d.display_name}</a></td>
        <td>${TIERS[d.tier] || d.tier}</td><td><code>${d.directory_id}</code></td></tr>`)}
      </tbody></table>
    </section>` });
}

function settingsSummary(settings) {
  if (!settings) return '—';
  const parts = (settings.method_points || []).filter((mp) => mp.points > 0)
    .map((mp) => `${methodLabel(mp.method)} ${mp.points}`);
  return `level ${settings.required_level}: ${parts.join(', ') || 'no method'}`;
}

// values: { required_level, points: {METHOD: n} } as shown in the form (the stored settings, or
// what the admin typed when Tally refused it). defaults: the tier's, when Tally says them.
function authenticationPage({ csrf, viewer, directory, methods, values, defaults, etag, notice,
  error, fieldErrors = {}, audit }) {
  const sum = methods.reduce((s, m) => s + (Number(values.points[m]) || 0), 0);
  const def = (m) => (defaults ? html`<span class="default">tier default ${defaults.points[m] ?? 0}</span>` : '');
  return layout({
    title: `${directory.display_name} · Authentication`, csrf, viewer, page: 'authentication', body: html`
    <section class="card">
      ${adminNav(directory, 'authentication')}
      <h2>Authentication Level settings</h2>
      <p>A sign-in succeeds once the methods a person completed add up to the required level.
        A method with 0 points is off.</p>
      ${alert('notice', notice)}${alert('error', error, 'settings-error')}
      <form method="post" id="settings-form" data-live-sum>
        ${csrfField(csrf)}
        <input type="hidden" name="etag" value="${etag}">
        <div class="field">
          <label for="required_level">Required level</label>
          <input id="required_level" name="required_level" type="number" min="1" max="1000" required
                 value="${values.required_level}" data-required ${invalid(fieldErrors, 'required_level')}>
          ${defaults ? html`<span class="default">tier default ${defaults.required_level}</span>` : ''}
          ${fieldError(fieldErrors, 'required_level')}
        </div>
        <fieldset>
          <legend>Points per method</legend>
          ${fieldError(fieldErrors, 'method_points')}
          ${methods.map((m) => html`
          <div class="field">
            <label for="points-${m}">${methodLabel(m)}</label>
            <input id="points-${m}" name="points.${m}" type="number" min="0" max="1000" required
                   value="${values.points[m] ?? 0}" data-points ${invalid(fieldErrors, `points-${m}`)}>
            ${def(m)}
            ${fieldError(fieldErrors, `points-${m}`)}
          </div>`)}
        </fieldset>
        <p class="sum" aria-live="polite" id="live-sum" data-sum-for="required_level">All enabled methods together:
          <strong><span data-sum>${sum}</span> points</strong> for a required level of
          <strong><span data-level>${values.required_level}</span></strong>
          <span data-verdict class="${sum >= values.required_level ? 'ok' : 'bad'}">${sum >= values.required_level ? '✓ reachable' : '✗ nobody could sign in'}</span></p>
        ${defaults ? '' : html`<p class="hint">This Tally version does not report the tier's defaults.</p>`}
        <button type="submit" class="primary">Save settings</button>
      </form>
    </section>
    <section class="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      ${audit.length ? html`<table id="audit"><thead><tr><th scope="col">When</th><th scope="col">Who</th>
        <th scope="col">Before</th><th scope="col">After</th></tr></thead><tbody>
        ${audit.map((e) => html`<tr><td>${time(e.time)}</td><td>${e.actor}</td>
          <td>${settingsSummary(e.before)}</td><td>${settingsSummary(e.after)}</td></tr>`)}
        </tbody></table>` : html`<p id="audit">No changes yet.</p>`}
    </section>` });
}

const ROLES = ['admin', 'user'];

function roleBoxes(selected, prefix) {
  return html`<fieldset class="roles"><legend>Roles</legend>${ROLES.map((r) => html`
    <label class="check"><input type="checkbox" name="roles" value="${r}" id="${prefix}-role-${r}"
      ${selected.includes(r) ? 'checked' : ''}> ${r}</label>`)}</fieldset>`;
}

function usersPage({ csrf, viewer, directory, users, nextPageToken, notice, error, fieldErrors = {}, form = {} }) {
  const base = `/admin/directories/${encodeURIComponent(directory.directory_id)}/users`;
  return layout({
    title: `${directory.display_name} · Users`, csrf, viewer, page: 'users', body: html`
    <section class="card">
      ${adminNav(directory, 'users')}
      ${alert('notice', notice)}${alert('error', error)}
      <table id="users"><thead><tr><th scope="col">Username</th><th scope="col">E-mail</th>
        <th scope="col">Phone</th><th scope="col">Roles</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${users.map((u) => html`<tr>
        <td>${u.username}</td><td>${u.email}</td><td>${u.phone_number}</td><td>${u.roles.join(', ')}</td>
        <td><a href="${base}/${encodeURIComponent(u.user_id)}" aria-label="Edit ${u.username}">Edit</a></td></tr>`)}
      </tbody></table>
      ${nextPageToken ? html`<p><a href="${base}?page_token=${encodeURIComponent(nextPageToken)}">Next page</a></p>` : ''}
    </section>
    <section class="card" aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      <form method="post" action="${base}" class="contact">
        ${csrfField(csrf)}
        <label for="new-username">Username</label>
        <input id="new-username" name="username" required autocomplete="off" value="${form.username || ''}"
               ${invalid(fieldErrors, 'username')}>
        ${fieldError(fieldErrors, 'username')}
        <label for="new-password">Initial password <span class="muted">(optional)</span></label>
        <input id="new-password" name="password" type="password" autocomplete="new-password"
               ${invalid(fieldErrors, 'password')}>
        ${fieldError(fieldErrors, 'password')}
        <label for="new-email">E-mail address</label>
        <input id="new-email" name="email" type="email" value="${form.email || ''}" ${invalid(fieldErrors, 'email')}>
        ${fieldError(fieldErrors, 'email')}
        <label for="new-phone">Phone number</label>
        <input id="new-phone" name="phone_number" type="tel" value="${form.phone_number || ''}"
               ${invalid(fieldErrors, 'phone_number')}>
        ${fieldError(fieldErrors, 'phone_number')}
        ${roleBoxes(form.roles || ['user'], 'new')}
        <button type="submit" class="primary">Add user</button>
      </form>
    </section>` });
}

function userPage({ csrf, viewer, directory, user, notice, error, fieldErrors = {} }) {
  const base = `/admin/directories/${encodeURIComponent(directory.directory_id)}/users/${encodeURIComponent(user.user_id)}`;
  return layout({
    title: `${user.username} · Users`, csrf, viewer, page: 'user', body: html`
    <section class="card">
      ${adminNav(directory, 'users')}
      <h2>${user.username}</h2>
      ${alert('notice', notice)}${alert('error', error)}
      <dl class="claims"><dt>User id</dt><dd><code>${user.user_id}</code></dd>
        <dt>Created</dt><dd>${time(user.create_time)}</dd>
        <dt>Password</dt><dd>${user.has_password ? 'set' : 'none'}</dd></dl>
      <form method="post" action="${base}/roles">
        ${csrfField(csrf)}
        ${roleBoxes(user.roles, 'edit')}
        <button type="submit" class="secondary">Save roles</button>
      </form>
      <h3>Contact</h3>
      ${contactForm({ csrf, action: `${base}/contact`, user, fieldErrors })}
    </section>` });
}

function errorPage({ csrf, viewer, status, title, message }) {
  return layout({
    title, csrf, viewer, page: 'error', body: html`
    <section class="card narrow">
      <h1>${title}</h1>
      <p>${message}</p>
      <p class="muted">HTTP ${status}</p>
      <p><a href="/">Back to the start</a></p>
    </section>` });
}

module.exports = {
  METHODS, methodLabel, seconds, durationText, signInPage, methodsPage, passwordPage, otpPage,
  totpPage, recoveryCodePage, rememberPage, passkeyPage, accountPage, profilePage, contactConfirmPage, totpEnrollPage, recoveryCodesPage,
  reauthPage, directoriesPage, authenticationPage, usersPage, userPage,
  errorPage,
};
