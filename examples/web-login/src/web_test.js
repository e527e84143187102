'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { html, csrfProtection } = require('./web');

test('html escapes interpolated text but not nested templates', () => {
  const name = '<script>alert("x")</script>&\'';
  const out = String(html`<p title="${name}">${name}${html`<b>ok</b>`}</p>`);
  assert.equal(out, '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">' +
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;<b>ok</b></p>');
  assert.equal(String(html`${null}${undefined}${false}${0}${['a', html`<i>b</i>`]}`), '0a<i>b</i>');
});

function run(middleware, { method = 'POST', headers = {}, body = {} }) {
  let status = 0;
  let passed = false;
  const res = { status(s) { status = s; return this; }, type() { return this; }, send() { return this; } };
  const req = { method, headers, body, get: (h) => headers[h.toLowerCase()] };
  middleware(req, res, () => { passed = true; });
  return passed ? 'next' : status;
}

test('CSRF: a POST needs the cookie\'s token and, when it says one, our origin', () => {
  const mw = csrfProtection({ origin: 'http://localhost:8080' });
  const token = 'a'.repeat(43);
  const cookie = `tally_csrf=${token}`;
  assert.equal(run(mw, { headers: { cookie }, body: { _csrf: token } }), 'next');
  assert.equal(run(mw, { headers: { cookie, 'x-csrf-token': token } }), 'next');
  assert.equal(run(mw, { headers: { cookie } }), 403, 'no token');
  assert.equal(run(mw, { headers: { cookie }, body: { _csrf: 'b'.repeat(43) } }), 403, 'wrong token');
  assert.equal(run(mw, { headers: {}, body: { _csrf: token } }), 403, 'no cookie');
  assert.equal(run(mw, { headers: {}, body: { _csrf: '' } }), 403, 'both empty');
  assert.equal(run(mw, { headers: { cookie, origin: 'http://evil.example' }, body: { _csrf: token } }), 403);
  assert.equal(run(mw, { method: 'GET', headers: {} }), 'next');
});
