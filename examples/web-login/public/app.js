// The pages' behaviour: passkey ceremonies (through @simplewebauthn/browser, served from this
// app), countdowns and the live sum of the settings page. Everything works without it except
// passkeys; no token or login id is ever visible here (they live in HttpOnly cookies).
(function () {
  'use strict';
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const webauthn = window.SimpleWebAuthnBrowser;

  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'x-csrf-token': csrf },
      credentials: 'same-origin',
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { /* not JSON: an error page */ }
    if (!response.ok) {
      const error = new Error(data.error || `The server answered ${response.status}.`);
      error.redirect = data.redirect;
      throw error;
    }
    return data;
  }

  function showError(text) {
    const box = document.getElementById('passkey-error');
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  // A person who cancels the browser's dialog is not shown an error.
  function cancelled(e) {
    return e && (e.name === 'NotAllowedError' || e.name === 'AbortError' ||
      e.code === 'ERROR_CEREMONY_ABORTED');
  }

  function directoryBody(button) {
    const field = button && button.dataset.directoryField &&
      document.getElementById(button.dataset.directoryField);
    return field ? { directory: field.value } : {};
  }

  // flow "login": the passkey step of a login by username; "first": passkey-first (no username),
  // from a button or from the username field's autofill (conditional UI).
  async function passkeyLogin(flow, button, autofill) {
    const options = await post('/login/passkey/options', { flow, ...directoryBody(button) });
    const response = await webauthn.startAuthentication({
      optionsJSON: options.optionsJSON, useBrowserAutofill: Boolean(autofill) });
    const done = await post('/login/passkey/finish', { flow, response });
    window.location.assign(done.redirect);
  }

  for (const button of document.querySelectorAll('[data-passkey-login]')) {
    button.addEventListener('click', async () => {
      showError('');
      button.disabled = true;
      try {
        await passkeyLogin(button.dataset.passkeyLogin, button, false);
      } catch (e) {
        if (e.redirect) return window.location.assign(e.redirect);
        if (!cancelled(e)) showError(e.message || 'The passkey could not be used.');
      } finally {
        button.disabled = false;
      }
    });
  }

  // Conditional UI: passkeys offered in the username field's autofill on the sign-in page.
  async function startAutofill() {
    const field = document.querySelector('input[autocomplete~="webauthn"]');
    const button = document.querySelector('[data-passkey-login="first"]');
    if (!field || !button || !webauthn || !(await webauthn.browserSupportsWebAuthnAutofill())) return;
    const directory = directoryBody(button).directory;
    if (directory !== undefined && !/^dir_[A-Za-z0-9_-]+$/.test(directory)) return;
    try {
      await passkeyLogin('first', button, true);
    } catch (e) {
      // Aborted when the person clicks a button instead; anything else is worth showing.
      if (e.redirect) return window.location.assign(e.redirect);
      if (!cancelled(e)) showError(e.message || 'The passkey could not be used.');
    }
  }
  if (document.body.dataset.page === 'sign-in') startAutofill();

  const register = document.querySelector('[data-passkey-register]');
  if (register) {
    register.addEventListener('submit', async (event) => {
      event.preventDefault();
      showError('');
      const button = register.querySelector('button');
      button.disabled = true;
      try {
        // return_to: where a "confirm it is you" step-up comes back to, if Tally asks for one.
        const options = await post('/passkeys/options', { return_to: window.location.pathname });
        const response = await webauthn.startRegistration({ optionsJSON: options.optionsJSON });
        await post('/passkeys/finish', { response, nickname: register.elements.nickname.value });
        window.location.assign(`${window.location.pathname}?done=passkey-added`);
      } catch (e) {
        if (e.redirect) return window.location.assign(e.redirect);
        if (!cancelled(e)) showError(e.message || 'The passkey could not be added.');
      } finally {
        button.disabled = false;
      }
    });
  }

  // Countdowns: "Try again in 12 seconds"; a button with data-enable-after turns on at zero.
  function formatSeconds(s) {
    if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
    const m = Math.ceil(s / 60);
    return `${m} minute${m === 1 ? '' : 's'}`;
  }
  const started = Date.now();
  const countdowns = Array.from(document.querySelectorAll('[data-countdown]'));
  const waiting = Array.from(document.querySelectorAll('[data-enable-after]'))
    .filter((b) => Number(b.dataset.enableAfter) > 0);
  if (countdowns.length || waiting.length) {
    const tick = () => {
      const elapsed = Math.floor((Date.now() - started) / 1000);
      let pending = false;
      for (const el of countdowns) {
        const left = Number(el.dataset.countdown) - elapsed;
        if (left > 0) {
          el.textContent = formatSeconds(left);
          pending = true;
        } else if (el.dataset.countdownDone !== undefined) {
          const parent = el.closest('.hint');
          if (el.dataset.countdownDone) el.parentElement.textContent = el.dataset.countdownDone;
          else if (parent) parent.hidden = true;
        }
      }
      for (const b of waiting) {
        if (Number(b.dataset.enableAfter) - elapsed <= 0) b.disabled = false;
        else pending = true;
      }
      if (pending) setTimeout(tick, 1000);
    };
    tick();
  }

  // Settings: the sum of all enabled methods against the required level, as the admin types.
  const settings = document.querySelector('[data-live-sum]');
  if (settings) {
    const update = () => {
      const sum = Array.from(settings.querySelectorAll('[data-points]'))
        .reduce((s, input) => s + Math.max(0, Number(input.value) || 0), 0);
      const level = Number(settings.querySelector('[data-required]').value) || 0;
      settings.querySelector('[data-sum]').textContent = String(sum);
      settings.querySelector('[data-level]').textContent = String(level);
      const verdict = settings.querySelector('[data-verdict]');
      const ok = level > 0 && sum >= level;
      verdict.textContent = ok ? '✓ reachable' : '✗ nobody could sign in';
      verdict.className = ok ? 'ok' : 'bad';
    };
    settings.addEventListener('input', update);
  }
}());
