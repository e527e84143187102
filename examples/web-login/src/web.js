'use strict';
// HTTP plumbing: escaped HTML templates, cookies, CSRF protection and security headers.
const crypto = require('node:crypto');
const cookie = require('cookie');

// ---- HTML: every interpolated value is escaped unless it is itself an Html (a template's result).
class Html {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function render(value) {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => { out += render(v) + strings[i + 1]; });
  return new Html(out);
}

// ---- Cookies. Every cookie is HttpOnly and SameSite=Strict: the page's JavaScript never sees
// the session token or the login id, and no other site's request carries them.
const COOKIES = {
  session: 'tally_session',  // the Tally session token (a JWT)
  login: 'tally_login',      // the id of the login transaction in progress
  loginName: 'tally_login_name',  // the username typed, for the pages of that login
  passkeyFirst: 'tally_passkey_login',  // a passkey-first login waiting for the browser
  registration: 'tally_passkey_reg',    // a passkey registration waiting for the browser
  contactChange: 'tally_contact_change',  // a contact change waiting for its code: id and destination
  totpEnrollment: 'tally_totp_enrollment',  // an authenticator app waiting for its first code
  returnTo: 'tally_return_to',  // where a step-up for a sensitive change goes back to
  stepUp: 'tally_step_up',    // the login in progress is a step-up of a session, not a sign-in
  remember: 'tally_remember',  // a finished sign-in whose device may be remembered: its login id
  device: 'tally_device',     // a remembered device: {user: username, id, token} (RememberDevice)
  csrf: 'tally_csrf',
};

function cookieOptions(config, maxAgeSeconds) {
  const options = { httpOnly: true, sameSite: 'strict', secure: config.secure_cookies, path: '/' };
  if (maxAgeSeconds !== undefined) options.maxAge = Math.max(0, Math.floor(maxAgeSeconds));
  return options;
}

function readCookies(req) {
  return cookie.parse(req.headers.cookie || '');
}

// A cookie holding JSON (set from JSON.stringify), or null when absent, unreadable or without
// one of the string `fields`.
function readJsonCookie(req, name, fields) {
  try {
    const value = JSON.parse(readCookies(req)[name] || 'null');
    return value && fields.every((f) => typeof value[f] === 'string') ? value : null;
  } catch {
    return null;
  }
}

function setCookie(res, config, name, value, maxAgeSeconds) {
  res.append('Set-Cookie', cookie.serialize(name, value, cookieOptions(config, maxAgeSeconds)));
}

function clearCookie(res, config, name) {
  res.append('Set-Cookie', cookie.serialize(name, '', { ...cookieOptions(config, 0), expires: new Date(0) }));
}

// ---- CSRF: a random token in an HttpOnly cookie, repeated by every form (hidden `_csrf`) and
// fetch (`x-csrf-token` header) and compared in constant time; and the Origin header, when
// present, must be ours. SameSite=Strict alone would stop most cross-site posts; this covers
// the browsers and paths where it does not.
function csrfToken(req, res, config) {
  let token = readCookies(req)[COOKIES.csrf];
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) {
    token = crypto.randomBytes(32).toString('base64url');
    setCookie(res, config, COOKIES.csrf, token);
    // The same request may render a form right away.
    req.cookies = { ...readCookies(req), [COOKIES.csrf]: token };
  }
  return token;
}

function sameToken(a, b) {
  const x = Buffer.from(String(a || ''));
  const y = Buffer.from(String(b || ''));
  return x.length === y.length && x.length > 0 && crypto.timingSafeEqual(x, y);
}

function csrfProtection(config) {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const origin = req.headers.origin;
    if (origin && origin !== config.origin) {
      return res.status(403).type('text/plain').send('Cross-origin request refused.');
    }
    const expected = readCookies(req)[COOKIES.csrf];
    const given = req.get('x-csrf-token') || (req.body && req.body._csrf);
    if (!sameToken(expected, given)) {
      return res.status(403).type('text/plain').send(
        'This form has expired. Go back, reload the page and try again.');
    }
    return next();
  };
}

function securityHeaders(req, res, next) {
  res.set({
    'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; " +
      "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
      "base-uri 'none'; object-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
  });
  next();
}

module.exports = {
  Html, html, escapeHtml, COOKIES, readCookies, readJsonCookie, setCookie, clearCookie, csrfToken,
  csrfProtection, securityHeaders,
};
