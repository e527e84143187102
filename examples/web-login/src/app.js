'use strict';
// The web app: sign-in pages driving Tally's LoginService step by step, the signed-in pages
// (session, passkeys, personal information) and the admin portal. Every decision is Tally's:
// this backend only carries the user's input to the gRPC API and shows the answer.
const path = require('node:path');
const express = require('express');
const { Status, TallyError } = require('./tally');
const { COOKIES, readCookies, readJsonCookie, setCookie, clearCookie, csrfToken, csrfProtection,
  securityHeaders } = require('./web');
const views = require('./views');
const { deviceName } = require('./device_name');

const LOGIN_COOKIE_SECONDS = 600;  // a login transaction lives 10 minutes in Tally
const CEREMONY_COOKIE_SECONDS = 300;  // passkey challenges live 5 minutes
const DIRECTORY_ID = /^dir_[A-Za-z0-9_-]+$/;
const STEP_UP_KEEP_SECONDS = 300;
const CONTACT_CHANGE_COOKIE_SECONDS = 600;  // the code itself lives as long as Tally says (5 min)

// Pages a step-up for a sensitive change may return to (never a URL from the request as such).
const RETURN_PATH = /^\/(account|profile(\/contact\/confirm)?|admin\/directories(\/[A-Za-z0-9_-]+){0,3})$/;

function safeReturn(value) {
  const p = String(value || '');
  return RETURN_PATH.test(p) ? p : '';
}

// Tally wants a recent sign-in for this change (API.md "Fresh authentication").
function needsFreshSignIn(e) {
  return e instanceof TallyError && e.code === Status.FAILED_PRECONDITION &&
    e.details.reason === 'REAUTHENTICATION_REQUIRED';
}

// Where a person goes back to after confirming it is them: the page the refused change came from.
function returnPathOf(req) {
  const given = safeReturn(req.body && req.body.return_to);
  if (given) return given;
  if (req.path.startsWith('/profile/contact/confirm')) return '/profile/contact/confirm';
  if (req.path.startsWith('/profile')) return '/profile';
  if (req.path.startsWith('/admin/')) return safeReturn(req.path.replace(/\/(roles|contact)$/, '')) || '/account';
  return '/account';
}

// Fixed texts for ?done=… after a redirect (never text from the query string itself).
const NOTICES = {
  'signed-out': 'You are signed out.',
  'expired': 'Your sign-in took too long or was finished elsewhere. Please start again.',
  'passkey-added': 'Your passkey was added.',
  'passkey-deleted': 'The passkey was deleted.',
  'contact-saved': 'Contact details saved.',
  'contact-changed': 'Your new contact details are confirmed and saved. We told your old address or number about the change.',
  'confirmed': 'Thanks, that was you: you can make your change now.',
  'totp-enabled': 'Your authenticator app is set up: you can use its codes to sign in.',
  'totp-removed': 'The authenticator app was removed from your account.',
  'password-changed': 'Your password was changed and all your sessions were ended. Sign in with your new password.',
  'stepped-up': 'Step-up complete: your session was renewed.',
  'device-remembered': 'This device is remembered: next time it counts toward your sign-in.',
  'device-forgotten': 'The device was forgotten: it no longer counts when you sign in.',
  'settings-saved': 'Settings saved. They apply to every sign-in from its next step.',
  'user-added': 'User added.',
  'roles-saved': 'Roles saved.',
};

// Reasons Tally attaches to refused settings (API.md "Errors carry details").
const SETTINGS_REASONS = {
  SETTINGS_UNSATISFIABLE: 'Nobody could sign in with these settings: all enabled methods together give fewer points than the required level.',
  SETTINGS_NEW_USER_LOCKED_OUT: 'New users could not sign in: password, SMS and e-mail points together must reach the required level.',
  SETTINGS_DEVICE_ALONE: 'A remembered device alone must never reach the required level.',
};

function createApp({ config, tally, log = () => {} }) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders);
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Path only: query strings and bodies may hold codes or tokens.
      log(`${req.method} ${req.path} ${res.statusCode} ${Number(process.hrtime.bigint() - started) / 1e6}ms`);
    });
    next();
  });
  app.get('/healthz', (req, res) => res.type('text/plain').send('ok'));
  // Passkeys and the CSRF origin check work on the configured origin only: a browser that came
  // by a loopback address goes there (http://127.0.0.1:8080 → http://localhost:8080).
  const origin = new URL(config.origin);
  app.use((req, res, next) => {
    const host = String(req.headers.host || '');
    const loopback = /^(127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host);
    if (loopback && origin.hostname === 'localhost' && (req.method === 'GET' || req.method === 'HEAD')) {
      return res.redirect(308, `${config.origin}${req.originalUrl}`);
    }
    return next();
  });
  const staticOptions = { index: false, maxAge: '1h' };
  app.use('/static', express.static(path.join(__dirname, '..', 'public'), staticOptions));
  const webauthnBundle = path.join(path.dirname(require.resolve('@simplewebauthn/browser')),
    '..', 'dist', 'bundle', 'index.umd.min.js');
  app.get('/static/vendor/simplewebauthn-browser.js', (req, res) => {
    res.set('Cache-Control', 'public, max-age=3600');
    res.sendFile(webauthnBundle);
  });
  app.use(express.urlencoded({ extended: false, limit: '32kb' }));
  app.use(express.json({ limit: '64kb' }));
  app.use((req, res, next) => {
    if (!req.body || typeof req.body !== 'object') req.body = {};  // any other content type
    res.set('Cache-Control', 'no-store');
    res.locals.csrf = csrfToken(req, res, config);
    next();
  });
  app.use(csrfProtection(config));

  const call = (client, method, request, token) => tally.call(client, method, request, token);
  const wantsJson = (req) => req.is('application/json') === 'application/json';
  const notice = (req) => {
    // A device remembered without its points on the offer (a plain user's: see deviceOffer):
    // the notice names the days Tally keeps it, from RememberDevice's expire_time.
    const days = req.query.done === 'device-remembered' ? numberParam(req, 'device_days') : undefined;
    if (days !== undefined) {
      return `This device is remembered for ${days} ${days === 1 ? 'day' : 'days'}: next time it counts toward ` +
        'your sign-in with the points your directory gives remembered devices.';
    }
    return NOTICES[req.query.done] || '';
  };

  // ---- Session helpers

  // The signed-in person: ValidateSession's claims plus the token, or null.
  async function viewerOf(req, res) {
    const token = readCookies(req)[COOKIES.session];
    if (!token) return null;
    try {
      const claims = await call('sessions', 'ValidateSession', { token });
      return { ...claims, token };
    } catch (e) {
      if (e instanceof TallyError && e.code === Status.UNAUTHENTICATED) {
        clearCookie(res, config, COOKIES.session);
        return null;
      }
      throw e;
    }
  }

  const signedIn = (handler) => async (req, res) => {
    const viewer = await viewerOf(req, res);
    if (!viewer) {
      if (wantsJson(req)) return res.status(401).json({ error: 'Your session has ended: sign in again.' });
      return res.redirect(303, '/');
    }
    return handler(req, res, viewer);
  };

  const admin = (handler) => signedIn(async (req, res, viewer) => {
    if (!viewer.roles.includes('admin')) {
      return sendError(req, res, viewer, 403, 'Not allowed', 'Only administrators of a directory can open the portal.');
    }
    return handler(req, res, viewer);
  });

  function startLoginCookies(res, state, username, { stepUp = false } = {}) {
    setCookie(res, config, COOKIES.login, state.login_id, LOGIN_COOKIE_SECONDS);
    if (username) setCookie(res, config, COOKIES.loginName, username, LOGIN_COOKIE_SECONDS);
    else clearCookie(res, config, COOKIES.loginName);
    if (stepUp) setCookie(res, config, COOKIES.stepUp, '1', LOGIN_COOKIE_SECONDS);
    else clearCookie(res, config, COOKIES.stepUp);
  }

  // This browser's remembered device, { user, id, token } from its HttpOnly cookie, or null.
  const rememberedDevice = (req) => readJsonCookie(req, COOKIES.device, ['user', 'id', 'token']);

  // StartLogin's device_token: the remembered device's, for the user it was remembered for (a
  // passkey-first login names nobody yet: Tally ignores another user's token).
  function deviceTokenFor(req, username) {
    const device = rememberedDevice(req);
    if (!device || (username && device.user !== username.toLowerCase())) return {};
    return { device_token: device.token };
  }

  const isStepUp = (req) => readCookies(req)[COOKIES.stepUp] === '1';

  // Tally never says why a device token did not count; once the user is known (password or
  // passkey done) and the device is not among the completed methods, this browser's token is
  // stale or forgotten: it goes, quietly. Step-ups send no token and tell nothing.
  function dropStaleDevice(req, res, state) {
    const device = rememberedDevice(req);
    const username = String(readCookies(req)[COOKIES.loginName] || '').toLowerCase();
    if (!device || isStepUp(req) || !username || device.user !== username) return;
    const done = state.completed_methods || [];
    if ((done.includes('AUTH_METHOD_PASSWORD') || done.includes('AUTH_METHOD_PASSKEY')) &&
        !done.includes('AUTH_METHOD_TRUSTED_DEVICE')) {
      clearCookie(res, config, COOKIES.device);
    }
  }

  // The account page after a sign-in, with the recovery codes left when one was used.
  function signedInPath(state) {
    const left = state.recovery_codes_left;
    return left === null || left === undefined ? '/account' : `/account?recovery_codes_left=${Number(left)}`;
  }

  // The points a remembered device is worth in the directory, and for how long Tally keeps it;
  // null when it counts nothing there, so remembering it is not offered. The settings are for
  // the directory's admins (API.md: GetAuthSettings "cluster, directory admin"): anyone else's
  // session gets PERMISSION_DENIED, and is offered the device without its points and days
  // ({ points: null }); the days come from RememberDevice's expire_time once it is remembered.
  async function deviceOffer(token, directoryId) {
    try {
      const { settings } = await call('policies', 'GetAuthSettings', { directory_id: directoryId }, token);
      const mp = (settings.method_points || []).find((m) => m.method === 'AUTH_METHOD_TRUSTED_DEVICE');
      if (!mp || mp.points <= 0) return null;
      return { points: mp.points, maxAgeSeconds: views.seconds(settings.trusted_device_max_age) };
    } catch (e) {
      if (e instanceof TallyError && e.code === Status.PERMISSION_DENIED) return { points: null, maxAgeSeconds: null };
      // Tally unreachable or the like: signing in goes on without the offer, but not unnoticed.
      log(`no "remember this device" offer: GetAuthSettings ${e instanceof TallyError ? e.codeName : e && e.name}`);
      return null;
    }
  }

  // A step's answer: on SUCCEEDED the session token goes into its cookie and the login's
  // cookies go away; returns where the browser goes next.
  // A step-up started for a sensitive change goes back to its page (COOKIES.returnTo). A
  // sign-in whose device did not count goes by the "remember this device" page when the
  // directory gives remembered devices points.
  async function afterStep(req, res, state, otherwise) {
    dropStaleDevice(req, res, state);
    const stepUp = isStepUp(req);
    if (keepSession(res, state)) {
      const back = safeReturn(readCookies(req)[COOKIES.returnTo]);
      if (back) {
        clearCookie(res, config, COOKIES.returnTo);
        return `${back}?done=confirmed`;
      }
      const next = signedInPath(state);
      const offer = !stepUp && !(state.completed_methods || []).includes('AUTH_METHOD_TRUSTED_DEVICE') &&
        await deviceOffer(state.session.token, state.directory_id);
      if (!offer) {
        // An earlier sign-in's unanswered offer must not remember this one's device.
        clearCookie(res, config, COOKIES.remember);
        return next;
      }
      setCookie(res, config, COOKIES.remember, state.login_id, LOGIN_COOKIE_SECONDS);
      return `/login/remember${next.slice('/account'.length)}`;
    }
    return otherwise;
  }

  // On SUCCEEDED: the session token into its cookie, the login's cookies away; → whether it was.
  function keepSession(res, state) {
    if (state.status !== 'LOGIN_STATUS_SUCCEEDED' || !state.session || !state.session.token) return false;
    const expires = views.seconds(state.session.expire_time) - Date.now() / 1000;
    setCookie(res, config, COOKIES.session, state.session.token, expires);
    for (const c of [COOKIES.login, COOKIES.loginName, COOKIES.passkeyFirst, COOKIES.stepUp]) {
      clearCookie(res, config, c);
    }
    return true;
  }

  // The login in progress, or null when there is none (or it expired).
  async function currentLogin(req) {
    const loginId = readCookies(req)[COOKIES.login];
    if (!loginId) return null;
    try {
      return (await call('logins', 'GetLogin', { login_id: loginId })).state;
    } catch (e) {
      if (e instanceof TallyError && (e.code === Status.NOT_FOUND || e.code === Status.INVALID_ARGUMENT)) return null;
      throw e;
    }
  }

  // GET pages of a login: the state, or off to the start when there is none.
  const loginPage = (render) => async (req, res) => {
    const state = await currentLogin(req);
    if (!state) return res.redirect(303, '/?done=expired');
    if (state.status === 'LOGIN_STATUS_SUCCEEDED') {
      return res.redirect(303, readCookies(req)[COOKIES.session] ? '/account' : '/?done=expired');
    }
    const username = readCookies(req)[COOKIES.loginName];
    return render(req, res, state, username);
  };

  function sendError(req, res, viewer, status, title, message) {
    if (wantsJson(req)) return res.status(status).json({ error: message });
    return res.status(status).type('html').send(String(
      views.errorPage({ csrf: res.locals.csrf, viewer, status, title, message })));
  }

  // ---- Sign in

  app.get('/', async (req, res) => {
    if (await viewerOf(req, res)) return res.redirect(303, '/account');
    const directoryId = config.directory_id ||
      (DIRECTORY_ID.test(String(req.query.directory || '')) ? req.query.directory : '');
    res.type('html').send(String(views.signInPage({
      csrf: res.locals.csrf, directoryId, askDirectory: !config.directory_id,
      notice: notice(req) })));
  });

  function directoryOf(req) {
    const d = config.directory_id || String((req.body && req.body.directory) || '').trim();
    return DIRECTORY_ID.test(d) ? d : '';
  }

  app.post('/login', async (req, res) => {
    const username = String(req.body.username || '').trim();
    const directoryId = directoryOf(req);
    const again = (error) => res.status(400).type('html').send(String(views.signInPage({
      csrf: res.locals.csrf, directoryId, askDirectory: !config.directory_id, username, error })));
    if (!directoryId) return again('Enter the directory id your organisation gave you (dir_…).');
    if (!username) return again('Enter your username.');
    try {
      const { state } = await call('logins', 'StartLogin', {
        directory_id: directoryId, username, ...deviceTokenFor(req, username) });
      startLoginCookies(res, state, username);
      clearCookie(res, config, COOKIES.returnTo);
      return res.redirect(303, '/login');
    } catch (e) {
      if (e instanceof TallyError && e.code === Status.NOT_FOUND) return again('There is no such directory.');
      if (e instanceof TallyError && e.code === Status.INVALID_ARGUMENT) return again(e.message);
      throw e;
    }
  });

  app.get('/login/restart', (req, res) => {
    for (const c of [COOKIES.login, COOKIES.loginName, COOKIES.passkeyFirst, COOKIES.stepUp]) {
      clearCookie(res, config, c);
    }
    res.redirect(303, '/');
  });

  app.get('/login', loginPage((req, res, state, username) => {
    res.type('html').send(String(views.methodsPage({ csrf: res.locals.csrf, state, username })));
  }));

  app.get('/login/password', loginPage((req, res, state, username) => {
    res.type('html').send(String(views.passwordPage({ csrf: res.locals.csrf, state, username })));
  }));

  // A step that changes the login: its answer decides where the browser goes; a refused step
  // (an RPC error, not a wrong factor) re-renders `page` with the reason.
  const loginStep = (rpc, request, page, next) => async (req, res) => {
    const loginId = readCookies(req)[COOKIES.login];
    if (!loginId) return res.redirect(303, '/?done=expired');
    try {
      const { state } = await call('logins', rpc, { login_id: loginId, ...request(req) });
      return res.redirect(303, await afterStep(req, res, state, next(state)));
    } catch (e) {
      if (!(e instanceof TallyError)) throw e;
      if (e.code === Status.NOT_FOUND) return res.redirect(303, '/?done=expired');
      const state = await currentLogin(req);
      if (!state) return res.redirect(303, '/?done=expired');
      if (state.status === 'LOGIN_STATUS_SUCCEEDED') return res.redirect(303, '/account');
      const status = e.code === Status.RESOURCE_EXHAUSTED ? 429 : 409;
      return res.status(status).type('html').send(String(page({
        csrf: res.locals.csrf, state, username: readCookies(req)[COOKIES.loginName],
        error: stepErrorText(e) })));
    }
  };

  function stepErrorText(e) {
    if (e.code === Status.RESOURCE_EXHAUSTED) {
      const wait = e.details.retryDelaySeconds;
      return wait ? `Too many codes were sent. Try again in ${views.durationText(wait)}.`
        : 'Too many codes were sent. Please wait a little before asking for another one.';
    }
    if (e.code === Status.FAILED_PRECONDITION) return `That step is not possible now: ${e.message}.`;
    return e.message;
  }

  app.post('/login/password', loginStep('SubmitPassword',
    (req) => ({ password: String(req.body.password || '') }), views.passwordPage,
    (state) => (state.last_step && state.last_step.outcome === 'STEP_OUTCOME_REJECTED' &&
      state.status !== 'LOGIN_STATUS_LOCKED' ? '/login/password' : '/login')));

  app.post('/login/otp/send', loginStep('SendOtp',
    (req) => ({ channel: req.body.channel === 'CHANNEL_EMAIL' ? 'CHANNEL_EMAIL' : 'CHANNEL_SMS' }),
    views.methodsPage, () => '/login/otp'));

  app.get('/login/otp', loginPage((req, res, state, username) => {
    if (!state.otp_delivery) return res.redirect(303, '/login');
    res.type('html').send(String(views.otpPage({ csrf: res.locals.csrf, state, username })));
  }));

  app.post('/login/otp/verify', loginStep('VerifyOtp',
    (req) => ({ code: codeOf(req) }), views.otpPage,
    (state) => (state.last_step && state.last_step.outcome === 'STEP_OUTCOME_REJECTED' &&
      state.status !== 'LOGIN_STATUS_LOCKED' ? '/login/otp' : '/login')));

  // A code step (authenticator app, recovery code): a wrong code stays on its page with the
  // attempts left; anything else goes back to the methods (or on, when the login is done).
  const codeStep = (route, rpc, page) => {
    app.get(route, loginPage((req, res, state, username) => {
      res.type('html').send(String(page({ csrf: res.locals.csrf, state, username })));
    }));
    app.post(route, loginStep(rpc, (req) => ({ code: codeOf(req) }), page,
      (state) => (state.last_step && state.last_step.outcome === 'STEP_OUTCOME_REJECTED' &&
        state.status !== 'LOGIN_STATUS_LOCKED' ? route : '/login')));
  };
  codeStep('/login/totp', 'SubmitTotp', views.totpPage);
  codeStep('/login/recovery-code', 'SubmitRecoveryCode', views.recoveryCodePage);

  // "Remember this device", right after a sign-in that completed without it: RememberDevice
  // on the finished login; the device token goes into its own HttpOnly cookie, for as long as
  // Tally keeps the device (the directory's trusted_device_max_age), and never into a page.
  async function rememberView(req, res, viewer) {
    const loginId = readCookies(req)[COOKIES.remember];
    if (!loginId) return null;
    const offer = await deviceOffer(viewer.token, viewer.directory_id);
    if (!offer) return null;
    const left = numberParam(req, 'recovery_codes_left');
    return { loginId, offer, next: left === undefined ? '/account' : `/account?recovery_codes_left=${left}` };
  }

  app.get('/login/remember', signedIn(async (req, res, viewer) => {
    const view = await rememberView(req, res, viewer);
    if (!view) return res.redirect(303, '/account');
    return res.type('html').send(String(views.rememberPage({
      csrf: res.locals.csrf, viewer, name: deviceName(req.get('user-agent')), ...view.offer,
      action: `/login/remember${view.next.slice('/account'.length)}` })));
  }));

  app.post('/login/remember', signedIn(async (req, res, viewer) => {
    const view = await rememberView(req, res, viewer);
    clearCookie(res, config, COOKIES.remember);
    if (!view) return res.redirect(303, '/account');
    if (req.body.remember !== 'yes') return res.redirect(303, view.next);
    let days = '';
    try {
      const [remembered, { user }] = await Promise.all([
        call('logins', 'RememberDevice', { login_id: view.loginId, device_name: deviceName(req.get('user-agent')) }),
        call('users', 'GetUser', { user_id: viewer.user_id }, viewer.token),
      ]);
      const seconds = views.seconds(remembered.expire_time) - Date.now() / 1000;
      setCookie(res, config, COOKIES.device, JSON.stringify({
        user: user.username.toLowerCase(), id: remembered.device_id, token: remembered.device_token }),
      Math.max(0, seconds));
      // The offer could not say for how long (no points either): the notice does.
      if (view.offer.points === null) days = `&device_days=${Math.max(0, Math.round(seconds / 86400))}`;
    } catch (e) {
      // The finished login expired meanwhile: the person is signed in all the same.
      if (e instanceof TallyError && (e.code === Status.NOT_FOUND || e.code === Status.FAILED_PRECONDITION)) {
        return res.redirect(303, view.next);
      }
      throw e;
    }
    return res.redirect(303, `${view.next}${view.next.includes('?') ? '&' : '?'}done=device-remembered${days}`);
  }));

  app.get('/login/passkey', loginPage((req, res, state, username) => {
    res.type('html').send(String(views.passkeyPage({ csrf: res.locals.csrf, state, username })));
  }));

  // Passkey ceremonies run in the page (app.js): options out, the browser's answer back.
  // `first` is a passkey-first login (no username): a login of its own, kept apart from a
  // login by username so the autofill request on the sign-in page never disturbs it.
  app.post('/login/passkey/options', async (req, res) => {
    const flow = req.body.flow === 'first' ? 'first' : 'login';
    let loginId = readCookies(req)[COOKIES.login];
    if (flow === 'first') {
      const directoryId = directoryOf(req);
      if (!directoryId) return res.status(400).json({ error: 'Enter the directory id first.' });
      const { state } = await call('logins', 'StartLogin', {
        directory_id: directoryId, username: '', ...deviceTokenFor(req, '') });
      loginId = state.login_id;
      setCookie(res, config, COOKIES.passkeyFirst, loginId, LOGIN_COOKIE_SECONDS);
      clearCookie(res, config, COOKIES.returnTo);  // a new sign-in, no abandoned step-up's page
    }
    if (!loginId) return res.status(409).json({ error: 'Your sign-in expired. Start again.', redirect: '/' });
    const started = await call('logins', 'StartPasskey', { login_id: loginId });
    if (started.state.status === 'LOGIN_STATUS_LOCKED') {
      return res.status(409).json({ error: 'Signing in is paused after too many failed attempts.', redirect: '/login' });
    }
    return res.json({ optionsJSON: JSON.parse(started.request_options_json) });
  });

  app.post('/login/passkey/finish', async (req, res) => {
    const flow = req.body.flow === 'first' ? 'first' : 'login';
    const loginId = readCookies(req)[flow === 'first' ? COOKIES.passkeyFirst : COOKIES.login];
    if (!loginId || !req.body.response) return res.status(409).json({ error: 'Your sign-in expired. Start again.', redirect: '/' });
    const { state } = await call('logins', 'FinishPasskey', {
      login_id: loginId, authentication_response_json: JSON.stringify(req.body.response) });
    if (flow === 'first') {
      // The passkey named the user: from here on it is an ordinary login.
      clearCookie(res, config, COOKIES.passkeyFirst);
      startLoginCookies(res, state, '');
    }
    return res.json({ redirect: await afterStep(req, res, state, '/login') });
  });

  app.post('/logout', async (req, res) => {
    const token = readCookies(req)[COOKIES.session];
    if (token) {
      try {
        await call('sessions', 'RevokeSession', { token });
      } catch (e) {
        // An expired or already invalid token needs no revoking; anything else is shown.
        if (!(e instanceof TallyError) || e.code !== Status.UNAUTHENTICATED) throw e;
      }
    }
    // The remembered device stays: it belongs to the browser, not to the session.
    for (const c of Object.values(COOKIES)) {
      if (c !== COOKIES.csrf && c !== COOKIES.device) clearCookie(res, config, c);
    }
    res.redirect(303, '/?done=signed-out');
  });

  // ---- Signed in

  // The directory's required level, for "can this session add a passkey" (DESIGN.md §1 rule 8);
  // undefined when Tally does not say (the page then lets Tally decide). Only the directory's
  // admins may read its settings (API.md), so nobody else's page asks.
  async function directoryLevel(viewer) {
    if (!viewer.roles.includes('admin')) return undefined;
    try {
      const { settings } = await call('policies', 'GetAuthSettings', { directory_id: viewer.directory_id }, viewer.token);
      return settings.required_level;
    } catch {
      return undefined;
    }
  }

  async function personalData(viewer) {
    const [user, passkeys, level] = await Promise.all([
      call('users', 'GetUser', { user_id: viewer.user_id }, viewer.token).then((r) => r.user),
      call('passkeys', 'ListPasskeys', { user_id: viewer.user_id }, viewer.token).then((r) => r.passkeys),
      directoryLevel(viewer),
    ]);
    return { user, passkeys, directoryLevel: level };
  }

  app.get('/account', signedIn(async (req, res, viewer) => {
    const data = await personalData(viewer);
    res.type('html').send(String(views.accountPage({ csrf: res.locals.csrf, viewer, ...data,
      notice: notice(req), recoveryCodesLeft: numberParam(req, 'recovery_codes_left') })));
  }));

  // A step-up from the account page (any level), or to confirm it is you before a sensitive
  // change (return_to: the change's page; the session's own level, every method again).
  app.post('/account/step-up', signedIn(async (req, res, viewer) => {
    const level = Number(req.body.level || viewer.level);
    const back = safeReturn(req.body.return_to);
    const { state } = await call('logins', 'StartStepUp', {
      session_token: viewer.token, required_level: Number.isInteger(level) ? level : 0,
      max_age_seconds: req.body.keep_recent ? STEP_UP_KEEP_SECONDS : 0 });
    if (keepSession(res, state)) {
      clearCookie(res, config, COOKIES.returnTo);
      return res.redirect(303, back ? `${back}?done=confirmed` : '/account?done=stepped-up');
    }
    if (back) setCookie(res, config, COOKIES.returnTo, back, LOGIN_COOKIE_SECONDS);
    else clearCookie(res, config, COOKIES.returnTo);
    const user = await call('users', 'GetUser', { user_id: viewer.user_id }, viewer.token);
    startLoginCookies(res, state, user.user.username, { stepUp: true });
    return res.redirect(303, '/login');
  }));

  // A contact change waiting for its code: { id, channel, to } from its HttpOnly cookie, or null.
  const pendingContactChange = (req) => readJsonCookie(req, COOKIES.contactChange, ['id', 'to']);

  async function renderProfile(req, res, viewer, extra = {}) {
    const [data, devices] = await Promise.all([
      personalData(viewer),
      call('sessions', 'ListTrustedDevices', { user_id: viewer.user_id }, viewer.token).then((r) => r.devices),
    ]);
    const mine = rememberedDevice(req);
    res.type('html').send(String(views.profilePage({
      csrf: res.locals.csrf, viewer, ...data, devices, thisDeviceId: mine ? mine.id : '',
      pendingChange: pendingContactChange(req),
      notice: notice(req), ...extra, user: { ...data.user, ...(extra.user || {}) } })));
  }

  app.get('/profile', signedIn((req, res, viewer) => renderProfile(req, res, viewer)));

  // The user's own change: Tally sends a code to the new destination and applies the change
  // once it comes back (ConfirmContactChange); a removal applies at once.
  app.post('/profile/contact', signedIn(async (req, res, viewer) => {
    const contact = contactOf(req);
    try {
      const answer = await call('users', 'UpdateContact', { user_id: viewer.user_id, ...contact }, viewer.token);
      return res.redirect(303, afterContactUpdate(res, contact, answer, '/profile?done=contact-saved'));
    } catch (e) {
      if (e instanceof TallyError && e.code === Status.RESOURCE_EXHAUSTED) {
        // Too many codes: the person stays where they asked ("Send a new code" or the form).
        res.status(429);
        const pending = pendingContactChange(req);
        if (pending) return renderContactConfirm(req, res, viewer, pending, { error: stepErrorText(e), notice: '' });
        return renderProfile(req, res, viewer, { user: contact, error: stepErrorText(e), notice: '' });
      }
      const refusal = fieldRefusal(e, CONTACT_FIELDS);
      if (!refusal) throw e;
      res.status(400);
      return renderProfile(req, res, viewer, { user: contact, ...refusal, notice: '' });
    }
  }));

  // UpdateContact's answer: applied (→ `applied`), or waiting for the code sent to the new
  // destination (→ the confirmation page, the change's id and destination in their cookie).
  function afterContactUpdate(res, contact, answer, applied) {
    if (!answer.pending_change_id) {
      clearCookie(res, config, COOKIES.contactChange);
      return applied;
    }
    // One destination changes per call: the e-mail when it differs from the stored one.
    const email = contact.email.toLowerCase() !== String(answer.user.email).toLowerCase();
    setCookie(res, config, COOKIES.contactChange, JSON.stringify({
      id: answer.pending_change_id, channel: email ? 'email' : 'sms',
      to: email ? contact.email : contact.phone_number }), CONTACT_CHANGE_COOKIE_SECONDS);
    return '/profile/contact/confirm';
  }

  async function renderContactConfirm(req, res, viewer, pending, extra = {}) {
    const { user } = await call('users', 'GetUser', { user_id: viewer.user_id }, viewer.token);
    res.type('html').send(String(views.contactConfirmPage({
      csrf: res.locals.csrf, viewer, user, pending, notice: notice(req), ...extra })));
  }

  app.get('/profile/contact/confirm', signedIn(async (req, res, viewer) => {
    const pending = pendingContactChange(req);
    if (!pending) return res.redirect(303, '/profile');
    return renderContactConfirm(req, res, viewer, pending);
  }));

  app.post('/profile/contact/confirm', signedIn(async (req, res, viewer) => {
    const pending = pendingContactChange(req);
    if (!pending) return res.redirect(303, '/profile');
    try {
      await call('users', 'ConfirmContactChange', { change_id: pending.id, code: codeOf(req) }, viewer.token);
      clearCookie(res, config, COOKIES.contactChange);
      return res.redirect(303, '/profile?done=contact-changed');
    } catch (e) {
      if (!(e instanceof TallyError)) throw e;
      // The session was valid a moment ago (signedIn): UNAUTHENTICATED here is the code.
      if (e.code === Status.UNAUTHENTICATED || e.code === Status.INVALID_ARGUMENT) {
        res.status(400);
        return renderContactConfirm(req, res, viewer, pending, { error: wrongCodeText(e), notice: '' });
      }
      if (e.code === Status.NOT_FOUND) {
        clearCookie(res, config, COOKIES.contactChange);
        res.status(409);
        return renderProfile(req, res, viewer, { pendingChange: null, notice: '',
          error: 'That code expired or was tried too often, so nothing was changed. Save your new details again to get a new code.' });
      }
      throw e;
    }
  }));

  app.post('/profile/contact/cancel', signedIn((req, res) => {
    clearCookie(res, config, COOKIES.contactChange);
    res.redirect(303, '/profile');
  }));

  // Forgetting a remembered device needs a fresh sign-in (Tally answers
  // REAUTHENTICATION_REQUIRED: the error handler sends the person to /reauth and back here).
  app.post('/profile/devices/forget', signedIn(async (req, res, viewer) => {
    const deviceId = String(req.body.device_id || '');
    await call('sessions', 'ForgetDevice', { user_id: viewer.user_id, device_id: deviceId }, viewer.token);
    const mine = rememberedDevice(req);
    if (mine && mine.id === deviceId) clearCookie(res, config, COOKIES.device);
    res.redirect(303, '/profile?done=device-forgotten');
  }));

  // The user's own password: the current one, then the new one twice. Tally ends every session
  // of the user on a change, this one too: the person signs in again.
  app.post('/profile/password', signedIn(async (req, res, viewer) => {
    const newPassword = String(req.body.new_password || '');
    const again = (status, refusal) => {
      res.status(status);
      return renderProfile(req, res, viewer, { notice: '', ...refusal });
    };
    if (newPassword !== String(req.body.new_password_again || '')) {
      return again(400, { error: 'Please correct the marked fields.',
        fieldErrors: { new_password_again: 'The two new passwords are not the same.' } });
    }
    try {
      await call('users', 'SetPassword', { user_id: viewer.user_id, new_password: newPassword,
        current_password: String(req.body.current_password || '') }, viewer.token);
    } catch (e) {
      if (!(e instanceof TallyError)) throw e;
      if (e.code === Status.PERMISSION_DENIED) {
        return again(403, { error: 'Please correct the marked fields.',
          fieldErrors: { current_password: 'That is not your current password.' } });
      }
      if (e.code === Status.RESOURCE_EXHAUSTED) {
        const wait = e.details.retryDelaySeconds;
        return again(429, { error: `Too many wrong passwords. ${wait ? `Try again in ${views.durationText(wait)}.` : 'Please wait a little before trying again.'}` });
      }
      const refusal = fieldRefusal(e, PASSWORD_FIELDS);
      if (!refusal) throw e;
      return again(400, refusal);
    }
    clearCookie(res, config, COOKIES.session);
    return res.redirect(303, '/?done=password-changed');
  }));

  // Authenticator app: the secret and its QR code are shown once, in the answer to this POST
  // (never stored here); the enrolment's id waits in an HttpOnly cookie for the first code.
  app.post('/profile/totp/start', signedIn(async (req, res, viewer) => {
    const started = await call('users', 'StartTotpEnrollment', { user_id: viewer.user_id }, viewer.token);
    const expires = views.seconds(started.expire_time) - Date.now() / 1000;
    setCookie(res, config, COOKIES.totpEnrollment, started.enrollment_id,
      expires > 0 ? expires : CEREMONY_COOKIE_SECONDS);
    res.type('html').send(String(views.totpEnrollPage({ csrf: res.locals.csrf, viewer, enrollment: started })));
  }));

  app.post('/profile/totp/confirm', signedIn(async (req, res, viewer) => {
    const enrollmentId = readCookies(req)[COOKIES.totpEnrollment];
    const expired = (status) => {
      clearCookie(res, config, COOKIES.totpEnrollment);
      res.status(status);
      return renderProfile(req, res, viewer, { notice: '',
        error: 'Setting up the authenticator app took too long. Please start again.' });
    };
    if (!enrollmentId) return expired(409);
    try {
      await call('users', 'ConfirmTotpEnrollment', { enrollment_id: enrollmentId, code: codeOf(req) }, viewer.token);
    } catch (e) {
      if (!(e instanceof TallyError)) throw e;
      if (e.code === Status.UNAUTHENTICATED || e.code === Status.INVALID_ARGUMENT) {
        return res.status(400).type('html').send(String(views.totpEnrollPage({
          csrf: res.locals.csrf, viewer, enrollment: null,
          error: 'That code is not right. Enter the code your app shows now (it changes every 30 seconds).' })));
      }
      if (e.code === Status.NOT_FOUND) return expired(409);
      throw e;
    }
    clearCookie(res, config, COOKIES.totpEnrollment);
    return res.redirect(303, '/profile?done=totp-enabled');
  }));

  app.post('/profile/totp/delete', signedIn(async (req, res, viewer) => {
    await call('users', 'DeleteTotp', { user_id: viewer.user_id }, viewer.token);
    res.redirect(303, '/profile?done=totp-removed');
  }));

  // Recovery codes are shown once, in the answer to this POST; a new set voids the old one.
  app.post('/profile/recovery-codes', signedIn(async (req, res, viewer) => {
    const { codes } = await call('users', 'GenerateRecoveryCodes', { user_id: viewer.user_id }, viewer.token);
    res.type('html').send(String(views.recoveryCodesPage({ csrf: res.locals.csrf, viewer, codes })));
  }));

  // "Confirm it is you": Tally refused a sensitive change because the sign-in is not recent.
  app.get('/reauth', signedIn((req, res, viewer) => {
    res.type('html').send(String(views.reauthPage({
      csrf: res.locals.csrf, viewer, returnTo: safeReturn(req.query.return_to) || '/account' })));
  }));

  app.post('/passkeys/options', signedIn(async (req, res, viewer) => {
    const { user } = await call('users', 'GetUser', { user_id: viewer.user_id }, viewer.token);
    const started = await call('passkeys', 'StartRegistration', {
      directory_id: viewer.directory_id, user_id: viewer.user_id, username: user.username,
      display_name: user.username }, viewer.token);
    setCookie(res, config, COOKIES.registration, started.challenge_id, CEREMONY_COOKIE_SECONDS);
    res.json({ optionsJSON: JSON.parse(started.creation_options_json) });
  }));

  app.post('/passkeys/finish', signedIn(async (req, res, viewer) => {
    const challengeId = readCookies(req)[COOKIES.registration];
    if (!challengeId || !req.body.response) return res.status(409).json({ error: 'The passkey request expired. Try again.' });
    clearCookie(res, config, COOKIES.registration);
    await call('passkeys', 'FinishRegistration', {
      directory_id: viewer.directory_id, challenge_id: challengeId,
      registration_response_json: JSON.stringify(req.body.response),
      nickname: String(req.body.nickname || '').slice(0, 64) }, viewer.token);
    res.json({ ok: true });
  }));

  app.post('/passkeys/delete', signedIn(async (req, res, viewer) => {
    await call('passkeys', 'DeletePasskey', {
      user_id: viewer.user_id, credential_id: String(req.body.credential_id || '') }, viewer.token);
    const back = req.body.return_to === '/profile' ? '/profile' : '/account';
    res.redirect(303, `${back}?done=passkey-deleted`);
  }));

  // ---- Admin portal

  async function directoryFor(viewer, directoryId) {
    return (await call('directories', 'GetDirectory', { directory_id: directoryId }, viewer.token)).directory;
  }

  app.get('/admin/directories', admin(async (req, res, viewer) => {
    // A session belongs to one directory: an admin sees the one they administer.
    const directory = await directoryFor(viewer, viewer.directory_id);
    res.type('html').send(String(views.directoriesPage({ csrf: res.locals.csrf, viewer, directories: [directory] })));
  }));

  app.get('/admin/directories/:id', admin((req, res) => {
    res.redirect(303, `/admin/directories/${encodeURIComponent(req.params.id)}/authentication`);
  }));

  const settingsPath = '/admin/directories/:id/authentication';

  async function authenticationView(viewer, directoryId) {
    const [directory, got, audit] = await Promise.all([
      directoryFor(viewer, directoryId),
      call('policies', 'GetAuthSettings', { directory_id: directoryId }, viewer.token),
      call('policies', 'ListAuditEvents', { directory_id: directoryId, page_size: 20 }, viewer.token),
    ]);
    const methods = tally.enumValues('tally.common.v1.AuthMethod');
    return {
      directory, methods, audit: audit.events, etag: got.settings.etag,
      values: formValues(got.settings),
      // GetAuthSettingsResponse.tier_defaults (API.md v1 additions); absent from an older Tally.
      defaults: got.tier_defaults ? formValues(got.tier_defaults) : null,
    };
  }

  app.get(settingsPath, admin(async (req, res, viewer) => {
    const view = await authenticationView(viewer, req.params.id);
    res.type('html').send(String(views.authenticationPage({ csrf: res.locals.csrf, viewer, ...view, notice: notice(req) })));
  }));

  app.post(settingsPath, admin(async (req, res, viewer) => {
    const methods = tally.enumValues('tally.common.v1.AuthMethod');
    const typed = {
      required_level: toInt(req.body.required_level),
      points: Object.fromEntries(methods.map((m) => [m, toInt(req.body[`points.${m}`])])),
    };
    try {
      // Replace semantics: the fields this form does not edit (the SMS countries, the device
      // age, any later one) go back as stored, or saving here would silently reset them. The
      // form's etag still decides: a change made meanwhile aborts the update.
      const stored = await call('policies', 'GetAuthSettings', { directory_id: req.params.id }, viewer.token);
      const settings = {
        ...stored.settings, directory_id: req.params.id, required_level: typed.required_level,
        method_points: methods.map((m) => ({ method: m, points: typed.points[m] })),
      };
      await call('policies', 'UpdateAuthSettings', { settings, etag: String(req.body.etag || '') }, viewer.token);
      return res.redirect(303, `${req.path}?done=settings-saved`);
    } catch (e) {
      if (!(e instanceof TallyError)) throw e;
      const view = await authenticationView(viewer, req.params.id);
      if (e.code === Status.ABORTED) {
        return res.status(409).type('html').send(String(views.authenticationPage({
          csrf: res.locals.csrf, viewer, ...view,
          error: 'Someone changed these settings meanwhile. Here they are as they are now: make your change again.' })));
      }
      const refusal = settingsRefusal(e, methods);
      if (!refusal) throw e;
      // Keep what the admin typed, with the stored etag (nothing was saved).
      return res.status(e.code === Status.INVALID_ARGUMENT ? 400 : 409).type('html').send(String(
        views.authenticationPage({ csrf: res.locals.csrf, viewer, ...view, values: typed, ...refusal })));
    }
  }));

  const usersPath = '/admin/directories/:id/users';

  async function usersView(viewer, directoryId, pageToken) {
    const [directory, list] = await Promise.all([
      directoryFor(viewer, directoryId),
      call('users', 'ListUsers', { directory_id: directoryId, page_size: 50, page_token: pageToken || '' }, viewer.token),
    ]);
    return { directory, users: list.users, nextPageToken: list.next_page_token };
  }

  app.get(usersPath, admin(async (req, res, viewer) => {
    const view = await usersView(viewer, req.params.id, String(req.query.page_token || ''));
    res.type('html').send(String(views.usersPage({ csrf: res.locals.csrf, viewer, ...view, notice: notice(req) })));
  }));

  app.post(usersPath, admin(async (req, res, viewer) => {
    const form = {
      username: String(req.body.username || '').trim(), ...contactOf(req), roles: rolesOf(req),
    };
    try {
      await call('users', 'CreateUser', {
        directory_id: req.params.id, password: String(req.body.password || ''), ...form }, viewer.token);
      return res.redirect(303, `${req.path}?done=user-added`);
    } catch (e) {
      const refusal = fieldRefusal(e, ['username', 'password', ...CONTACT_FIELDS]);
      if (!refusal) throw e;
      const view = await usersView(viewer, req.params.id, '');
      return res.status(e.code === Status.ALREADY_EXISTS ? 409 : 400).type('html').send(String(
        views.usersPage({ csrf: res.locals.csrf, viewer, ...view, form, ...refusal,
          fieldErrors: e.code === Status.ALREADY_EXISTS ? { username: 'This username is taken.' } : refusal.fieldErrors })));
    }
  }));

  const userPath = '/admin/directories/:id/users/:user';

  async function userView(viewer, directoryId, userId) {
    const [directory, got] = await Promise.all([
      directoryFor(viewer, directoryId),
      call('users', 'GetUser', { user_id: userId }, viewer.token),
    ]);
    if (got.user.directory_id !== directoryId) {
      throw new TallyError({ code: Status.NOT_FOUND, details: 'no such user in this directory' }, {});
    }
    return { directory, user: got.user };
  }

  app.get(userPath, admin(async (req, res, viewer) => {
    const view = await userView(viewer, req.params.id, req.params.user);
    res.type('html').send(String(views.userPage({ csrf: res.locals.csrf, viewer, ...view, notice: notice(req) })));
  }));

  app.post(`${userPath}/roles`, admin(async (req, res, viewer) => {
    await userView(viewer, req.params.id, req.params.user);
    await call('users', 'SetRoles', { user_id: req.params.user, roles: rolesOf(req) }, viewer.token);
    res.redirect(303, `${req.path.replace(/\/roles$/, '')}?done=roles-saved`);
  }));

  app.post(`${userPath}/contact`, admin(async (req, res, viewer) => {
    const view = await userView(viewer, req.params.id, req.params.user);
    const contact = contactOf(req);
    try {
      const answer = await call('users', 'UpdateContact', { user_id: req.params.user, ...contact }, viewer.token);
      // An admin's own account is their own change: verified like anyone's.
      return res.redirect(303, afterContactUpdate(res, contact, answer,
        `${req.path.replace(/\/contact$/, '')}?done=contact-saved`));
    } catch (e) {
      const refusal = fieldRefusal(e, CONTACT_FIELDS);
      if (!refusal) throw e;
      return res.status(400).type('html').send(String(views.userPage({
        csrf: res.locals.csrf, viewer, ...view, user: { ...view.user, ...contact }, ...refusal })));
    }
  }));

  // ---- Errors

  app.use((req, res) => sendError(req, res, null, 404, 'Not found', 'There is no such page.'));

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    if (!(err instanceof TallyError)) {
      log(`error ${req.method} ${req.path}: ${err && err.name}`);
      if (err && err.type === 'entity.parse.failed') return sendError(req, res, null, 400, 'Bad request', 'The request could not be read.');
      return sendError(req, res, null, 500, 'Something went wrong', 'Please try again.');
    }
    log(`tally ${req.method} ${req.path}: ${err.codeName}`);
    if (needsFreshSignIn(err)) {
      const reauth = `/reauth?return_to=${encodeURIComponent(returnPathOf(req))}`;
      if (wantsJson(req)) {
        return res.status(409).json({ error: 'For your safety, confirm it is you first.', redirect: reauth });
      }
      return res.redirect(303, reauth);
    }
    switch (err.code) {
      case Status.UNAUTHENTICATED:
        clearCookie(res, config, COOKIES.session);
        if (wantsJson(req)) return res.status(401).json({ error: 'Your session has ended: sign in again.' });
        return res.redirect(303, '/');
      case Status.PERMISSION_DENIED:
        return sendError(req, res, null, 403, 'Not allowed', `Tally refused this: ${err.message}.`);
      case Status.NOT_FOUND:
        return sendError(req, res, null, 404, 'Not found', `Tally does not know this: ${err.message}.`);
      case Status.INVALID_ARGUMENT:
      case Status.ALREADY_EXISTS:
        return sendError(req, res, null, 400, 'Not accepted', `Tally refused this: ${err.message}.`);
      case Status.FAILED_PRECONDITION:
        return sendError(req, res, null, 409, 'Not possible now', `Tally refused this: ${err.message}.`);
      case Status.RESOURCE_EXHAUSTED:
        return sendError(req, res, null, 429, 'Slow down', stepErrorText(err));
      case Status.UNAVAILABLE:
      case Status.DEADLINE_EXCEEDED:
        return sendError(req, res, null, 503, 'Tally is not reachable', 'Tally did not answer in time. Please try again in a moment.');
      default:
        return sendError(req, res, null, 500, 'Something went wrong', 'Please try again.');
    }
  });

  return app;
}

// ---- Form helpers

const CONTACT_FIELDS = ['email', 'phone_number'];
const PASSWORD_FIELDS = ['current_password', 'new_password'];

// ?recovery_codes_left=N after a sign-in with a recovery code; undefined unless a number.
// A small number from the query string (the recovery codes left, the days a device is kept),
// or undefined: only digits ever reach a page.
function numberParam(req, name) {
  const text = String(req.query[name] ?? '');
  return /^\d{1,4}$/.test(text) ? Number(text) : undefined;
}

function codeOf(req) {
  return String(req.body.code || '').replace(/\s+/g, '');
}

// "That code is not right.", with the attempts left when Tally's message says them.
function wrongCodeText(e) {
  if (e.code === Status.INVALID_ARGUMENT) return 'Enter the code from the message.';
  const left = /(\d+) attempts? left/.exec(e.message);
  if (!left) return 'That code is not right.';
  const n = Number(left[1]);
  return n > 0 ? `That code is not right. ${n} ${n === 1 ? 'attempt' : 'attempts'} left.`
    : 'That code is not right, and it can no longer be used: save your new details again to get a new one.';
}

function contactOf(req) {
  return { email: String(req.body.email || '').trim(), phone_number: String(req.body.phone_number || '').trim() };
}

function rolesOf(req) {
  const roles = req.body.roles;
  return (Array.isArray(roles) ? roles : roles ? [roles] : []).map(String);
}

function toInt(value) {
  const n = Number(value);
  return Number.isInteger(n) ? n : 0;
}

function formValues(settings) {
  return {
    required_level: settings.required_level,
    points: Object.fromEntries((settings.method_points || []).map((mp) => [mp.method, mp.points])),
  };
}

// A refusal to show beside the form: { error, fieldErrors } from BadRequest field violations
// when Tally sends them, else Tally's message at the top. null for errors that are no refusal.
function fieldRefusal(e, fields) {
  if (!(e instanceof TallyError) || needsFreshSignIn(e) ||
      ![Status.INVALID_ARGUMENT, Status.ALREADY_EXISTS, Status.FAILED_PRECONDITION].includes(e.code)) {
    return null;
  }
  const fieldErrors = {};
  for (const v of e.details.fieldViolations || []) {
    const name = fields.find((f) => String(v.field).split('.').pop() === f);
    if (name) fieldErrors[name] = v.description || e.message;
  }
  return { error: Object.keys(fieldErrors).length ? 'Please correct the marked fields.' : `Tally refused this: ${e.message}.`, fieldErrors };
}

// Refused settings: the reason's text next to the field BadRequest names (the required level
// when it names none; today's refusals are all about the level against the sum).
function settingsRefusal(e, methods) {
  if (needsFreshSignIn(e) || ![Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION].includes(e.code)) return null;
  const text = SETTINGS_REASONS[e.details.reason];
  const message = text ? `${text} (${e.message})` : `Tally refused these settings: ${e.message}.`;
  const fieldErrors = {};
  for (const v of e.details.fieldViolations || []) {
    const field = String(v.field);
    const method = methods.find((m) => field.includes(m) ||
      field.toLowerCase().includes(m.replace(/^AUTH_METHOD_/, '').toLowerCase()));
    let key = 'required_level';
    if (method && !field.includes('required_level')) key = `points-${method}`;
    else if (field.endsWith('method_points')) key = 'method_points';  // the points as a whole
    fieldErrors[key] = text ? message : (v.description || message);
  }
  if (Object.keys(fieldErrors).length === 0) fieldErrors.required_level = message;
  return { error: 'Tally did not save these settings.', fieldErrors, reason: e.details.reason };
}

module.exports = { createApp, settingsRefusal, fieldRefusal };
