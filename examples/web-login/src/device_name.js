'use strict';
// A name a person recognises for the browser they sign in with ("Chrome on Linux"), from its
// User-Agent header: browser and system only (never versions or anything else the header
// carries), for RememberDevice and the profile's list of remembered devices.

// The first match wins: Edge and Opera also say Chrome, Chrome also says Safari.
const BROWSERS = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'], [/\bOPR\/|\bOpera\b/, 'Opera'], [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bSamsungBrowser\//, 'Samsung Internet'], [/\bChromium\//, 'Chromium'],
  [/\b(Headless)?Chrome\/|\bCriOS\//, 'Chrome'], [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];
const SYSTEMS = [
  [/\b(iPhone|iPod)\b/, 'iPhone'], [/\biPad\b/, 'iPad'], [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'], [/\bWindows\b/, 'Windows'], [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

function first(table, ua) {
  const hit = table.find(([pattern]) => pattern.test(ua));
  return hit ? hit[1] : '';
}

function deviceName(userAgent) {
  const ua = String(userAgent || '').slice(0, 512);
  const browser = first(BROWSERS, ua);
  const system = first(SYSTEMS, ua);
  if (browser && system) return `${browser} on ${system}`;
  return browser || (system ? `A browser on ${system}` : 'A web browser');
}

module.exports = { deviceName };
