// The city's clock for the data page (/data): a time zone's wall-clock parts of an instant, the instant of a local
// date and time, ISO 8601 with the zone's offset, and the times a URL may hold — whatever the browser's own zone.
"use strict";

window.SRCityTime = (tz) => {
  const partsFmt = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  function local(ms) {
    const p = Object.fromEntries(partsFmt.formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
    return { y: p.year, m: p.month, d: p.day, H: p.hour % 24, M: p.minute, S: p.second };
  }
  function offsetMs(ms) {
    const p = local(ms);
    return Date.UTC(p.y, p.m - 1, p.d, p.H, p.M, p.S) - Math.floor(ms / 1000) * 1000;
  }
  // The instant of a city-local wall-clock time (months may overflow: Date.UTC carries them).
  function instant(y, m, d, H = 0, M = 0, S = 0) {
    const guess = Date.UTC(y, m - 1, d, H, M, S);
    return guess - offsetMs(guess - offsetMs(guess));
  }
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  function isoLocal(ms) {
    const p = local(ms);
    const off = offsetMs(ms) / 60000;
    const sign = off < 0 ? "-" : "+";
    return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.H)}:${pad(p.M)}:${pad(p.S)}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  }
  const dateOf = (ms) => { const p = local(ms); return `${p.y}-${pad(p.m)}-${pad(p.d)}`; };
  function shown(ms, seconds) {
    const p = local(ms);
    return `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.H)}:${pad(p.M)}${seconds ? `:${pad(p.S)}` : ""}`;
  }
  // A time of the URL: epoch seconds, a date (the start of that day, or its end for `to`), or ISO 8601.
  function parseTime(value, isEnd) {
    if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (day) {
      const [y, m, d] = day.slice(1).map(Number);
      if (m < 1 || m > 12 || d < 1 || d > 31) return null;
      return isEnd ? instant(y, m, d + 1) - 1000 : instant(y, m, d);
    }
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return null;
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : null;
  }
  return { local, offsetMs, instant, isoLocal, dateOf, shown, parseTime };
};
