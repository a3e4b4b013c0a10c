// The wall's words in Korean and English, its inline SVG icons, and which board, language and build the page
// is (from <body>'s data attributes).
// One of the wall's scripts (pages.py loads them in order, wall.js last); they share the page's script scope.
"use strict";

const body = document.body;
// The dashboard shown; the wall at `/` (data-follow) switches it to the boards of the open incidents' hazards and
// back to its own (HOME) when they end (docs/incidents.md).
const HOME = body.dataset.dashboard;
const FOLLOW = body.dataset.follow === "1";
let NAME = HOME;
const LANG = body.dataset.lang === "en" ? "en" : "ko";
const BUILD = body.dataset.build;
const LOCALE = LANG === "ko" ? "ko-KR" : "en-GB";
const WORDS = {
  ko: {
    asOf: "데이터", asOfSuffix: "기준", noData: "데이터 없음", lost: "연결 끊김", lostEn: "Connection lost",
    lastData: "마지막 데이터", retry: "재연결 시도", inSec: "초 후", connecting: "연결 중",
    allClear: "발령 중인 경보 없음", since: "부터", more: "건 더", configError: "대시보드 파일 오류",
    lastGood: "마지막 정상 버전 표시 중", staleSince: "지연 · 마지막", ago: "전", sec: "초", min: "분",
    hour: "시간", day: "일", noMessages: "수신된 재난문자 없음",
    noDashboard: "표시할 대시보드가 없습니다", acked: "확인", now: "현재", peak: "최고", centre: "시내",
    last: "최근", range: "범위",
    exercise: "훈련", exerciseBand: "훈련 상황 · 실제 상황이 아닙니다", exerciseOther: "EXERCISE — not a real situation",
    drill: "훈련", simulated: "모의 시각", sim: "모의", speed: "배속", incidentSince: (t) => `${t}부터`,
    withheld: "열람 권한 없음", withheldWhy: "부서 한정 지표: 이 화면의 로그인으로는 볼 수 없습니다",
    // A disaster text's own class (행정안전부): 위급재난, 긴급재난, 안전안내 — not a status of the city.
    msg: { critical: "위급재난", warning: "긴급재난", info: "안전안내" },
  },
  en: {
    asOf: "Data as of", asOfSuffix: "", noData: "no data", lost: "Connection lost", lostEn: "연결 끊김",
    lastData: "last data", retry: "reconnecting", inSec: "s", connecting: "connecting",
    allClear: "No alerts firing", since: "since", more: "more", configError: "Dashboard file error",
    lastGood: "showing the last good version", staleSince: "stale · last", ago: "ago", sec: "s", min: "min",
    hour: "h", day: "d", noMessages: "No disaster messages",
    noDashboard: "No dashboard to show", acked: "acknowledged", now: "now", peak: "peak", centre: "City centre",
    last: "last", range: "range",
    exercise: "EXERCISE", exerciseBand: "EXERCISE · not a real situation", exerciseOther: "훈련 상황 — 실제 상황이 아닙니다",
    drill: "Drill", simulated: "simulated time", sim: "simulated", speed: "speed", incidentSince: (t) => `since ${t}`,
    withheld: "Not yours to read", withheldWhy: "restricted to departments: this screen's sign-in may not read it",
    msg: { critical: "extreme", warning: "emergency", info: "safety notice" },
  },
}[LANG];

// ------------------------------------------------------------------------------------------ icons
// Inline SVG so the symbols never depend on a font having the glyph.
// One shape per status, as the scale's `mark` characters: ● 관심, ▲ 주의, ◆ 경계, ■ (a stop sign) 심각.
const ICONS = {
  normal: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M7.5 12.5l3 3 6-6.5" stroke="currentColor" stroke-width="2.6" fill="none" stroke-linecap="round" stroke-linejoin="round"/>',
  none: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M7.5 12h9" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/>',
  info: '<circle cx="12" cy="12" r="10" fill="currentColor"/><path d="M12 10.5v7" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="6.8" r="1.6" fill="var(--chip-bg, #0a0f15)"/>',
  warning: '<path d="M12 2.5L23 21.5H1z" fill="currentColor"/><path d="M12 9v6" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="18.3" r="1.5" fill="var(--chip-bg, #0a0f15)"/>',
  critical: '<path d="M12 1l11 11-11 11L1 12z" fill="currentColor"/><path d="M12 7v6.5" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="17" r="1.5" fill="var(--chip-bg, #0a0f15)"/>',
  severe: '<path d="M8 1.5h8l6.5 6.5v8L16 22.5H8L1.5 16V8z" fill="currentColor"/><path d="M12 6.5v7" stroke="var(--chip-bg, #0a0f15)" stroke-width="2.8" stroke-linecap="round"/><circle cx="12" cy="17.5" r="1.7" fill="var(--chip-bg, #0a0f15)"/>',
  stale: '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="2.4"/><path d="M12 6.5V12l4 2.5" stroke="currentColor" stroke-width="2.4" fill="none" stroke-linecap="round"/>',
  unknown: '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2.4" stroke-dasharray="4 3"/>',
  up: '<path d="M12 3l8 9h-5v9H9v-9H4z" fill="currentColor"/>',
  lock: '<rect x="4.5" y="10.5" width="15" height="11" rx="2" fill="currentColor"/><path d="M8 10.5V7a4 4 0 0 1 8 0v3.5" fill="none" stroke="currentColor" stroke-width="2.4"/>',
  down: '<path d="M12 21l8-9h-5V3H9v9H4z" fill="currentColor"/>',
  flat: '<path d="M21 12l-9-8v5H3v6h9v5z" fill="currentColor"/>',
  plug: '<path d="M7 2v6M17 2v6M5 8h14v4a7 7 0 0 1-14 0zM12 19v3" stroke="currentColor" stroke-width="2.4" fill="none" stroke-linecap="round"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/>',
};
const icon = (name) => `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true">${ICONS[name] || ""}</svg>`;
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
